// SPDX-License-Identifier: MIT
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Toa.Balancer.Configuration;

/// <summary>
/// Source-generated serialization of the configuration (AOT-friendly). Comments and trailing
/// commas are allowed; unknown fields are refused so that a typo cannot silently fall back to a default.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    WriteIndented = true,
    Converters = [typeof(DurationJsonConverter)])]
[JsonSerializable(typeof(BalancerConfig))]
internal sealed partial class ConfigJsonContext : JsonSerializerContext;

// SPDX-License-Identifier: MIT
// cgroup eBPF programs exist on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

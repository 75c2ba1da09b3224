// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Cli.Boot;
using Toa.Cli.CommandLine;
using Toa.Cli.Commands;

namespace Toa.Cli;

/// <summary>The root command, built from one factory per command.</summary>
public static class RootCommandFactory
{
    /// <summary>A fresh command tree.</summary>
    public static RootCommand Create() => new(
        "toa: real client addresses for servers behind layer-4 load balancers, carried in TCP options (TOA), "
        + "with eBPF instead of a kernel module.")
    {
        CommonOptions.Verbose,
        ConnectCommand.Create(),
        DemoCommand.Create(),
        FeaturesCommand.Create(),
        LoadCommand.Create(),
        LbCommand.Create(),
        UnloadCommand.Create(),
        StatusCommand.Create(),
        StatsCommand.Create(),
        TableCommand.Create(),
        LogCommand.Create(),
        MetricsCommand.Create(),
        CaptureCommand.Create(),
        EnableCommand.Create(),
        DisableCommand.Create(),
        DoctorCommand.Create(),
        PackageFilesCommand.Create(),
    };
}

// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Cli.CommandLine;
using Toa.Cli.Commands;

var root = new RootCommand(
    "toa: real client addresses for servers behind layer-4 load balancers, carried in TCP options (TOA), "
    + "with eBPF instead of a kernel module.")
{
    CommonOptions.Verbose,
    ConnectCommand.Create(),
};
return await CliRunner.RunAsync(root, args);

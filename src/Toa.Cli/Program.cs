// SPDX-License-Identifier: MIT
using Toa.Cli;
using Toa.Cli.CommandLine;

return await CliRunner.RunAsync(RootCommandFactory.Create(), args);

// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net.NetworkInformation;
using Toa.Cli.CommandLine;
using Toa.Cli.Doctor;
using Toa.Cli.Receiver;

namespace Toa.Cli.Commands;

/// <summary><c>toa doctor</c>: the troubleshooting FAQ of Tencent Cloud's TOA guide, walked and judged.</summary>
internal static class DoctorCommand
{
    private const int DefaultSeconds = 10, MostSeconds = 3600;

    private static readonly Option<int?> Port = new("--port")
    {
        Description = "The port the server listens on: doctor finds the processes listening there and tells whether the "
            + "receiver covers them (their cgroup against its attach point), and captures only this port's traffic.",
        HelpName = "PORT",
        CustomParser = r => ParseNumber(r, "--port", 1, 65535),
    };

    private static readonly Option<string?> Capture = new("--capture")
    {
        Description = "Capture live traffic on this interface (of doctor's network namespace; 'any' for all) and judge "
            + "each new connection: did a TOA arrive, from a trusted peer, in a layout the receiver honours, and did the "
            + "receiver record it.",
        HelpName = "IFACE",
    };

    private static readonly Option<int?> Seconds = new("--seconds")
    {
        Description = $"How long to capture, in seconds (1 to {MostSeconds}). Default: {DefaultSeconds}. Needs --capture.",
        HelpName = "N",
        CustomParser = r => ParseNumber(r, "--seconds", 1, MostSeconds),
    };

    private static readonly Option<bool> Json = new("--json")
    {
        Description = "Print the findings as JSON: {\"healthy\", \"problems\", \"warnings\", \"findings\": [{\"check\", "
            + "\"severity\" (ok, warning, problem), \"message\", \"next\"}]}.",
    };

    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    public static Command Create()
    {
        var command = new Command("doctor",
            "Walk the troubleshooting FAQ and say what is wrong, in plain words, with the next step to take: kernel support "
            + "and privileges; whether the receiver is loaded and where it is attached; with --port, whether the process "
            + "listening there is covered; the trust list; with --capture, per new connection, whether a TOA arrived (as "
            + "tcpdump shows unknown-200 or unknown-253), from a trusted peer, and whether the receiver recorded it. "
            + "Exit code 0 when healthy, 1 when a problem was found, 2 for a wrong command line. Needs root; run it in "
            + "the server's network namespace.\n\n"
            + "Example: toa doctor --port 8000 --capture eth0 --seconds 20")
        {
            Port, Capture, Seconds, Json, PinDir,
        };
        command.Validators.Add(r =>
        {
            if (r.GetResult(Seconds) is not null && r.GetResult(Capture) is null)
                r.AddError("--seconds needs --capture IFACE: it is how long to capture");
        });
        command.SetAction(async (parse, cancel) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var iface = parse.GetValue(Capture);
            if (iface is not null && !InterfaceExists(iface))
                throw new CliException($"--capture: no interface '{iface}' in this network namespace (ip link lists them)", ReturnCode.UsageError);
            var context = new DoctorContext
            {
                PinDirectory = ReceiverCommandOptions.PinDirOf(parse, PinDir),
                Port = parse.GetValue(Port),
                CaptureInterface = iface,
                CaptureDuration = TimeSpan.FromSeconds(parse.GetValue(Seconds) ?? DefaultSeconds),
                CommandLine = "toa " + string.Join(' ', parse.Tokens.Select(t => t.Value)),
                IsRoot = Privileges.IsRoot,
                Progress = parse.InvocationConfiguration.Error,
            };
            var findings = await DoctorRunner.RunAsync(context, DoctorRunner.Checks, cancel);
            IFindingRenderer renderer = parse.GetValue(Json) ? new JsonFindingRenderer(output) : new ConsoleFindingRenderer(output);
            renderer.Render(findings);
            return DoctorRunner.ExitCode(findings);
        });
        return command;
    }

    private static int? ParseNumber(ArgumentResult result, string option, int least, int most)
    {
        var text = result.Tokens[0].Value;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= least && value <= most)
            return value;
        result.AddError($"{option}: '{text}' is not a whole number from {least} to {most}");
        return null;
    }

    // getifaddrs underneath: the interfaces of this process's network namespace.
    private static bool InterfaceExists(string name) =>
        name == "any" || NetworkInterface.GetAllNetworkInterfaces().Any(i => i.Name == name);
}

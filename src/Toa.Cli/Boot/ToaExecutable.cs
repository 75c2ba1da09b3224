// SPDX-License-Identifier: MIT
namespace Toa.Cli.Boot;

/// <summary>
/// The command line that runs this toa again later, from a unit file: the apphost it was started
/// as (a .NET tool's shim in ~/.dotnet/tools keeps its path across tool updates; a build output
/// directory only as long as the checkout stays), or <c>dotnet toa.dll</c> when started that way.
/// <paramref name="AppDirectory"/> is where its assemblies are, when known.
/// </summary>
internal sealed record ToaExecutable(IReadOnlyList<string> Command, string? DotnetRoot, string? AppDirectory = null)
{
    /// <summary>How this process was started.</summary>
    public static ToaExecutable Current()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this process is unknown");
        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
            return new ToaExecutable([process, Path.Join(AppContext.BaseDirectory, "toa.dll")], null, AppContext.BaseDirectory);
        return new ToaExecutable([process], RuntimeRoot(), AppContext.BaseDirectory);
    }

    /// <summary>A toa named by the user (<c>--toa-path</c>), run with this process's runtime.</summary>
    public static ToaExecutable At(string path) => new([Path.GetFullPath(path)], RuntimeRoot());

    /// <summary>What root runs from at boot, each with what it is: the command's files, the assemblies' directory, the runtime.</summary>
    public IEnumerable<(string What, string Path)> RunFrom =>
        Command.Select(c => ("toa", c))
            .Concat(AppDirectory is null ? [] : [("toa's assemblies", AppDirectory)])
            .Concat(DotnetRoot is null ? [] : [("the .NET runtime (DOTNET_ROOT)", DotnetRoot)]);

    /// <summary>
    /// Whether the executable sits in a git checkout (a build output): a unit pointing there
    /// breaks when the checkout moves or is cleaned.
    /// </summary>
    public bool InCheckout
    {
        get
        {
            for (var dir = Path.GetDirectoryName(Command[^1]); dir is not null; dir = Path.GetDirectoryName(dir))
            {
                if (Path.Exists(Path.Join(dir, ".git")))
                    return true;
            }
            return false;
        }
    }

    /// <summary>
    /// The .NET installation this process runs on (the parent of shared/Microsoft.NETCore.App/VERSION):
    /// an apphost started by systemd finds no dotnet on PATH, so the unit names it in DOTNET_ROOT.
    /// Null when self-contained.
    /// </summary>
    private static string? RuntimeRoot()
    {
        var framework = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory().TrimEnd('/');
        var shared = Path.GetDirectoryName(Path.GetDirectoryName(framework));
        return shared is not null && Path.GetFileName(shared) == "shared" ? Path.GetDirectoryName(shared) : null;
    }
}

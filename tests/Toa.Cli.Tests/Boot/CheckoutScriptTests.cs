// SPDX-License-Identifier: MIT
using Toa.Lab;
using Toa.Testing;

namespace Toa.Cli.Tests.Boot;

/// <summary>
/// The checkout's <c>./toa</c> builds only when a source changed: it runs in a copy of the
/// checkout's shape with a <c>dotnet</c> of the test's own on PATH that records each build and
/// writes a toa that prints "ran".
/// </summary>
public sealed class CheckoutScriptTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"toa-checkout-{Guid.NewGuid():N}");

    public CheckoutScriptTests()
    {
        Directory.CreateDirectory(_root);
        File.Copy(Path.Join(CSamples.RepoRoot, "toa"), Path.Join(_root, "toa"));
        Write("scripts/prerequisites.sh", "#!/bin/sh\nexit 0\n", executable: true);
        Write("stubs/dotnet", """
            #!/bin/sh
            # dotnet build PROJECT ... -o DIR: records the project, writes DIR/toa.
            echo "$2" >> "$(dirname "$0")/builds"
            while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
            mkdir -p "$out" && printf '#!/bin/sh\necho ran\n' > "$out/toa" && chmod +x "$out/toa"
            """, executable: true);
        foreach (var source in new[] { "src/Toa.Cli/Program.cs", "bpf/receiver.bpf.c", "samples/c/toa_server.c", "Directory.Build.props" })
            Write(source, "// source\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Run_AfterABuild_DoesNotBuildAgain()
    {
        Run();

        Assert.Equal("ran", Run());
        Assert.Equal(2, Builds);
    }

    [Theory]
    [InlineData("src/Toa.Cli/obj/Release/net10.0/toa.dll")]
    [InlineData("src/Toa.Cli/bin/Release/net10.0/toa.dll")]
    [InlineData("samples/WhoAmI/obj/project.assets.json")]
    public void Run_OnlyABuildOutputNewer_DoesNotBuild(string output)
    {
        Run();
        Touch(output);

        Assert.Equal("ran", Run());
        Assert.Equal(2, Builds);
    }

    [Theory]
    [InlineData("src/Toa.Cli/Program.cs")]
    [InlineData("src/Toa.Cli/Commands/New.cs")]
    [InlineData("bpf/receiver.bpf.c")]
    [InlineData("Directory.Build.props")]
    public void Run_ASourceNewer_BuildsTheCliAndTheSample(string source)
    {
        Run();
        Touch(source);

        Assert.Equal("ran", Run());
        Assert.Equal(4, Builds);
    }

    // The CLI and the WhoAmI sample: two builds each time.
    private int Builds => File.ReadAllLines(Path.Join(_root, "stubs", "builds")).Length;

    private string Run()
    {
        var result = Shell.TryRun("env", $"PATH={Path.Join(_root, "stubs")}:/usr/bin:/bin", "bash", Path.Join(_root, "toa"));
        Assert.True(result.ExitCode == 0, result.StandardError);
        return result.StandardOutput.Trim();
    }

    // Later than the build the script just stamped, whatever the file system's time resolution.
    private void Touch(string relative)
    {
        var path = Path.Join(_root, relative);
        if (!File.Exists(path))
            Write(relative, "");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
    }

    private void Write(string relative, string text, bool executable = false)
    {
        var path = Path.Join(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        if (executable)
            Shell.Run("chmod", "755", path);
    }
}

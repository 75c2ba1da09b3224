// SPDX-License-Identifier: MIT
namespace Toa.Balancer.Tests;

/// <summary>Files of the repository the tests run from.</summary>
internal static class RepoFiles
{
    public static string Path(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "toa.slnx")))
                return System.IO.Path.Combine(dir.FullName, relative);
        }
        throw new FileNotFoundException("toa.slnx not found above the test binaries");
    }
}

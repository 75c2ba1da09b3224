// SPDX-License-Identifier: MIT
using System.Text;

namespace Toa.Receiver;

/// <summary>
/// Lines in the kernel log (/dev/kmsg), where toa.ko's operators look:
/// <c>dmesg -T | grep TOA</c>.
/// </summary>
public static class KernelLog
{
    private const string Device = "/dev/kmsg";

    /// <summary>Writes "TOA: <paramref name="message"/>" at level info; false if the log is not writable.</summary>
    public static bool Write(string message)
    {
        try
        {
            // One write() per record: /dev/kmsg takes each write as one line.
            using var kmsg = new FileStream(Device, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            kmsg.Write(Encoding.UTF8.GetBytes($"<6>TOA: {message}\n"));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

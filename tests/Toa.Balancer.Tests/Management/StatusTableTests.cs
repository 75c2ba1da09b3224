// SPDX-License-Identifier: MIT
using Toa.Balancer.Management;

namespace Toa.Balancer.Tests.Management;

public class StatusTableTests
{
    [Fact]
    public void Write_TwoListeners_AlignedRowsAndTotals()
    {
        var status = new BalancerStatus(3, 0,
        [
            new ListenerStatus("web", "0.0.0.0:80", "tencent", "maglev",
            [
                new BackendStatusInfo("10.0.0.1:8080", 3, "healthy", "healthy", 2, 40, 0),
                new BackendStatusInfo("10.0.0.2:8080", 1, "draining", "healthy", 1, 7, 100),
            ]),
            new ListenerStatus("api", "[::]:443", "off", "least-connections",
            [
                new BackendStatusInfo("[fd00::1]:443", 1, "unhealthy", "unhealthy", 0, 0, 0),
            ]),
        ]);
        var output = new StringWriter();

        StatusTable.Write(status, output);

        Assert.Equal(
            [
                "LISTENER  ADDRESS     ENGINE  TOA      SCHEDULER          BACKEND        WEIGHT  STATUS     ACTIVE  TOTAL  MAX",
                "web       0.0.0.0:80  proxy   tencent  maglev             10.0.0.1:8080  3       healthy    2       40     -",
                "web       0.0.0.0:80  proxy   tencent  maglev             10.0.0.2:8080  1       draining   1       7      100",
                "api       [::]:443    proxy   off      least-connections  [fd00::1]:443  1       unhealthy  0       0      -",
                "3 active connections (limit none)",
                "",
            ],
            output.ToString().Split(Environment.NewLine));
    }

    [Fact]
    public void Write_PacketListener_ItsEngineAndTheEnginesConnections()
    {
        var status = new BalancerStatus(0, 1000,
        [
            new ListenerStatus("vip", "192.0.2.10:80", "dpvs", "maglev",
            [
                new BackendStatusInfo("10.0.0.1:8080", 1, "healthy", "healthy", 5, 12, 0),
            ], "packet"),
        ], new PacketStatus(5, 131072));
        var output = new StringWriter();

        StatusTable.Write(status, output);

        Assert.Equal(
            [
                "LISTENER  ADDRESS        ENGINE  TOA   SCHEDULER  BACKEND        WEIGHT  STATUS   ACTIVE  TOTAL  MAX",
                "vip       192.0.2.10:80  packet  dpvs  maglev     10.0.0.1:8080  1       healthy  5       12     -",
                "0 active connections (limit 1000)",
                "5 connections in the packet engine (limit 131072)",
                "",
            ],
            output.ToString().Split(Environment.NewLine));
    }
}

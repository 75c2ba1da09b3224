// SPDX-License-Identifier: MIT
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Prometheus;
using Toa.Balancer.Management;
using Toa.Cli.CommandLine;
using Toa.Receiver;

namespace Toa.Cli.Metrics;

/// <summary>
/// Serves <c>GET /metrics</c> on the balancer's <see cref="HttpEndpoint"/>, reading the counters
/// afresh for each scrape; nothing is read between scrapes.
/// </summary>
internal sealed class MetricsEndpoint(IPEndPoint listen, Func<ReceiverCounters?> read, ILogger log)
{
    /// <summary>The URL scrapers use.</summary>
    public string Url => $"http://{EndPointText.Format(listen)}/metrics";

    /// <summary>Serves until <paramref name="cancel"/>; throws <see cref="IOException"/> when the address cannot be bound.</summary>
    public async Task ServeAsync(Action started, CancellationToken cancel)
    {
        await using var http = await HttpEndpoint.StartAsync(new HttpEndpointOptions { Tcp = [listen] }, AnswerAsync);
        started();
        try
        {
            await Task.Delay(Timeout.Infinite, cancel);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
        }
    }

    private async Task AnswerAsync(HttpContext context)
    {
        var (request, response) = (context.Request, context.Response);
        var cancel = context.RequestAborted;
        if (request.Method is not ("GET" or "HEAD"))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }
        if (request.Path.Value is not "/metrics")
        {
            await TextAsync(response, request.Path.Value == "/" ? StatusCodes.Status200OK : StatusCodes.Status404NotFound,
                $"toa metrics: the TOA receiver's counters are at {Url}\n", cancel);
            return;
        }
        ReceiverCounters? counters;
        try
        {
            counters = read();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Toa.Bpf.BpfException)
        {
            CliLog.MetricsReadFailed(log, e.Message);
            await TextAsync(response, StatusCodes.Status500InternalServerError, $"cannot read the counters: {e.Message}\n", cancel);
            return;
        }
        response.ContentType = PrometheusConstants.TextContentTypeWithVersionAndEncoding;
        using var body = new MemoryStream();
        await ReceiverMetrics.WriteAsync(counters, body, cancel);
        response.ContentLength = body.Length;
        if (request.Method == "GET")
            await response.Body.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), cancel);
    }

    private static async Task TextAsync(HttpResponse response, int status, string text, CancellationToken cancel)
    {
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        var bytes = Encoding.UTF8.GetBytes(text);
        response.ContentLength = bytes.Length;
        await response.Body.WriteAsync(bytes, cancel);
    }
}

// SPDX-License-Identifier: MIT
using System.Net;
using Prometheus;
using Toa.Cli.CommandLine;
using Toa.Receiver;

namespace Toa.Cli.Metrics;

/// <summary>
/// Serves <c>GET /metrics</c> over HTTP, reading the counters afresh for each scrape; nothing is
/// read between scrapes. Requests are answered one at a time: scrapers ask every few seconds.
/// </summary>
internal sealed class MetricsEndpoint(IPEndPoint listen, Func<ReceiverCounters?> read, TextWriter log)
{
    /// <summary>The URL scrapers use.</summary>
    public string Url => $"http://{EndPointText.Format(listen)}/metrics";

    /// <summary>Serves until <paramref name="cancel"/>; throws <see cref="HttpListenerException"/> when the address cannot be bound.</summary>
    public async Task ServeAsync(Action started, CancellationToken cancel)
    {
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://{EndPointText.Format(listen)}/");
        listener.Start();
        started();
        while (true)
        {
            HttpListenerContext context;
            try
            {
                // Stopping the listener does not end a pending GetContextAsync on Linux: stop waiting instead.
                context = await listener.GetContextAsync().WaitAsync(cancel);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return;
            }
            using var response = context.Response;
            await AnswerAsync(context.Request, response, cancel);
        }
    }

    private async Task AnswerAsync(HttpListenerRequest request, HttpListenerResponse response, CancellationToken cancel)
    {
        if (request.HttpMethod is not ("GET" or "HEAD"))
        {
            response.StatusCode = (int)HttpStatusCode.MethodNotAllowed;
            return;
        }
        if (request.Url?.AbsolutePath is not "/metrics")
        {
            await TextAsync(response, request.Url?.AbsolutePath == "/" ? HttpStatusCode.OK : HttpStatusCode.NotFound,
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
            await log.WriteLineAsync($"toa: metrics: cannot read the counters: {e.Message}");
            await TextAsync(response, HttpStatusCode.InternalServerError, $"cannot read the counters: {e.Message}\n", cancel);
            return;
        }
        response.ContentType = PrometheusConstants.TextContentTypeWithVersionAndEncoding;
        using var body = new MemoryStream();
        await ReceiverMetrics.WriteAsync(counters, body, cancel);
        response.ContentLength64 = body.Length;
        if (request.HttpMethod == "GET")
            await response.OutputStream.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), cancel);
    }

    private static async Task TextAsync(HttpListenerResponse response, HttpStatusCode status, string text, CancellationToken cancel)
    {
        response.StatusCode = (int)status;
        response.ContentType = "text/plain; charset=utf-8";
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes, cancel);
    }
}

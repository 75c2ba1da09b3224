// SPDX-License-Identifier: MIT
using Microsoft.Extensions.Logging;

namespace Toa.Balancer.Tests.Packet;

/// <summary>Keeps every log event's name and message, from every category, in order.</summary>
internal sealed class RecordingLoggerFactory : ILoggerFactory
{
    private readonly List<(string Event, string Message)> _events = [];

    public IReadOnlyList<(string Event, string Message)> Events
    {
        get
        {
            lock (_events)
                return [.. _events];
        }
    }

    public bool Has(string eventName) => Events.Any(e => e.Event == eventName);

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLoggerFactory factory) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (factory._events)
                factory._events.Add((eventId.Name ?? "", formatter(state, exception)));
        }
    }
}

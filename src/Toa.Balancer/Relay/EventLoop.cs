// SPDX-License-Identifier: MIT
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Toa.Balancer.Relay;

/// <summary>What has descriptors in an <see cref="EventLoop"/>: told what epoll reported, on the loop's thread.</summary>
internal interface IEventHandler
{
    /// <param name="events">The EPOLL* bits.</param>
    /// <param name="tag">What the descriptor was added with (0 or 1), to tell a handler's descriptors apart.</param>
    void OnEvents(uint events, int tag);
}

/// <summary>
/// One thread, one epoll instance: the relay's descriptors are watched here, edge-triggered, and
/// every event of a connection is handled on the one thread that owns it, the way HAProxy and
/// nginx run, so a connection's two sockets never cross threads. Other threads hand work in
/// with <see cref="Post"/>. Handlers sit in a table; an event names its handler by slot, and a
/// freed slot is reused only after the batch of events it may still appear in.
/// </summary>
internal sealed unsafe partial class EventLoop : IDisposable
{
    private const int MaxEvents = 256;
    private const ulong WakeData = 0;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly Thread _thread;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<(Action<object?> Work, object? State)> _posted = new();
    private readonly List<IEventHandler?> _handlers = [];
    private readonly Stack<int> _free = new();
    private readonly List<int> _retired = [];
    private int _wakePending;
    private volatile bool _stopping;

    public EventLoop(int index, ILogger logger)
    {
        _logger = logger;
        _epoll = Libc.EpollCreate(Libc.SockCloseOnExec);
        if (_epoll < 0)
            throw new IOException($"epoll_create1 failed: errno {Libc.Errno}");
        _wake = Libc.EventFd(0, Libc.SockNonBlock | Libc.SockCloseOnExec);
        if (_wake < 0)
        {
            Libc.Close(_epoll);
            throw new IOException($"eventfd failed: errno {Libc.Errno}");
        }
        Control(Libc.EpollCtlAdd, _wake, Libc.EpollIn, WakeData);
        _thread = new Thread(Run) { IsBackground = true, Name = $"toa-relay-{index}" };
        _thread.Start();
    }

    /// <summary>
    /// Bytes a handler reads and passes on before it returns: one buffer serves every connection
    /// of the loop. Pinned, so that native calls take its address without fixing it.
    /// </summary>
    public byte[] Scratch { get; } = GC.AllocateUninitializedArray<byte>(RelayConnection.ChunkSize, pinned: true);

    /// <summary>Gives <paramref name="handler"/> a slot; on the loop's thread only.</summary>
    public int Register(IEventHandler handler)
    {
        if (_free.TryPop(out var slot))
        {
            _handlers[slot] = handler;
            return slot;
        }
        _handlers.Add(handler);
        return _handlers.Count - 1;
    }

    /// <summary>Frees a slot after this batch of events; on the loop's thread only.</summary>
    public void Unregister(int slot)
    {
        _handlers[slot] = null;
        _retired.Add(slot);
    }

    /// <summary>
    /// The registered handlers of type <typeparamref name="T"/>; on the loop's thread only. What
    /// the caller does to them may unregister them as it goes.
    /// </summary>
    public IEnumerable<T> HandlersOf<T>()
        where T : class, IEventHandler
    {
        for (var slot = 0; slot < _handlers.Count; slot++)
        {
            if (_handlers[slot] is T handler)
                yield return handler;
        }
    }

    /// <summary>Watches <paramref name="fd"/> for <paramref name="events"/> on behalf of the handler in <paramref name="slot"/>.</summary>
    /// <exception cref="IOException">epoll_ctl failed (out of memory, or the watch limit).</exception>
    public void Add(int fd, uint events, int slot, int tag) => Control(Libc.EpollCtlAdd, fd, events, DataFor(slot, tag));

    /// <summary>Stops watching <paramref name="fd"/> (closing it does the same when nothing else holds it).</summary>
    public void Remove(int fd) => Control(Libc.EpollCtlDel, fd, 0, 0);

    /// <summary>Runs <paramref name="work"/> on the loop's thread, soon; from any thread.</summary>
    public void Post(Action<object?> work, object? state)
    {
        _posted.Enqueue((work, state));
        // One wake-up per batch of posts: the loop clears the flag before it drains the queue.
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            ulong one = 1;
            Libc.Write(_wake, (byte*)&one, sizeof(ulong));
        }
    }

    /// <summary>Runs <paramref name="work"/> on the loop's thread and completes when it has.</summary>
    public Task InvokeAsync(Action work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(static state =>
        {
            var (action, completion) = ((Action, TaskCompletionSource))state!;
            try
            {
                action();
                completion.SetResult();
            }
            catch (Exception e)
            {
                completion.SetException(e);
            }
        }, (work, done));
        return done.Task;
    }

    /// <summary>Stops the thread; what is still posted does not run.</summary>
    public void Dispose()
    {
        if (_stopping)
            return;
        _stopping = true;
        Post(static _ => { }, null);
        _thread.Join();
        Libc.Close(_wake);
        Libc.Close(_epoll);
    }

    // Slot + 1, so that 0 stays the wake-up descriptor's; the tag in the low bit.
    private static ulong DataFor(int slot, int tag) => ((ulong)(slot + 1) << 1) | (uint)tag;

    private void Control(int op, int fd, uint events, ulong data)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        Unsafe.WriteUnaligned(ev + Libc.EpollDataOffset, data);
        if (Libc.EpollCtl(_epoll, op, fd, ev) != 0)
            throw new IOException($"epoll_ctl({op}) on descriptor {fd} failed: errno {Libc.Errno}");
    }

    private void Run()
    {
        var size = Libc.EpollEventSize;
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * size));
        try
        {
            while (!_stopping)
            {
                var count = Libc.EpollWait(_epoll, events, MaxEvents, -1);
                if (count < 0)
                {
                    if (Libc.Errno == Libc.EINTR)
                        continue;
                    LogWaitFailed(_logger, Libc.Errno);
                    return;
                }
                for (var i = 0; i < count; i++)
                {
                    var ev = events + i * size;
                    var data = Unsafe.ReadUnaligned<ulong>(ev + Libc.EpollDataOffset);
                    if (data == WakeData)
                        RunPosted();
                    else
                        Dispatch(*(uint*)ev, data);
                }
                foreach (var slot in _retired)
                    _free.Push(slot);
                _retired.Clear();
            }
        }
        finally
        {
            NativeMemory.Free(events);
        }
    }

    private void Dispatch(uint events, ulong data)
    {
        var handler = _handlers[(int)(data >> 1) - 1];
        if (handler is null)
            return; // gone earlier in this batch
        try
        {
            handler.OnEvents(events, (int)(data & 1));
        }
        catch (Exception e)
        {
            // Handlers deal with their own failures; this keeps the loop alive if one did not.
            LogHandlerFailed(_logger, e);
        }
    }

    private void RunPosted()
    {
        ulong value;
        Libc.Read(_wake, (byte*)&value, sizeof(ulong));
        // Cleared after the eventfd is read, with a full fence, before the queue is: a post that
        // saw the flag still set is in the queue by now; one that comes later sees it clear and
        // writes the eventfd again.
        Interlocked.Exchange(ref _wakePending, 0);
        while (_posted.TryDequeue(out var item))
        {
            try
            {
                item.Work(item.State);
            }
            catch (Exception e)
            {
                LogHandlerFailed(_logger, e);
            }
        }
    }

    [LoggerMessage(EventId = 320, EventName = "EventLoopFailed", Level = LogLevel.Critical,
        Message = "The relay's event loop stopped: epoll_wait failed with errno {Errno}")]
    private static partial void LogWaitFailed(ILogger logger, int errno);

    [LoggerMessage(EventId = 321, EventName = "EventHandlerFailed", Level = LogLevel.Error,
        Message = "An event handler of the relay failed unexpectedly")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception);
}

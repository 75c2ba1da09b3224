// SPDX-License-Identifier: MIT
using System.Net.Sockets;

namespace Toa.Wire;

/// <summary>
/// One TOA layout on the wire: an option kind, its total length and the client's
/// address family. Every field is in network byte order, port before address.
/// </summary>
public enum ToaLayout
{
    /// <summary>Tencent CLB, IPv4 client: kind 200, length 8 (port, IPv4).</summary>
    Tencent4,
    /// <summary>Tencent CLB NAT64, IPv6 client: kind 253, length 20 (port, IPv6).</summary>
    Tencent6,
    /// <summary>LVS FULLNAT / DPVS / Huawei ELB, IPv4 client: kind 254, length 8.</summary>
    Dpvs4,
    /// <summary>DPVS, IPv6 client (also NAT64): kind 254, length 20.</summary>
    Dpvs6,
    /// <summary>Alibaba CDN, IPv4 client: kind 28, length 7 (version 1, IPv4; no port).</summary>
    AlibabaCdn4,
    /// <summary>Alibaba CDN, IPv6 client: kind 28, length 19 (version 1, IPv6; no port).</summary>
    AlibabaCdn6,
    /// <summary>UCloud's "Akamai" layout, IPv4 client: kind 253, length 8.</summary>
    UCloud4,
}

/// <summary>A set of <see cref="ToaLayout"/> values: which layouts a receiver honours.</summary>
[Flags]
public enum ToaLayouts
{
    /// <summary>No layout.</summary>
    None = 0,
    /// <summary><see cref="ToaLayout.Tencent4"/>.</summary>
    Tencent4 = 1 << ToaLayout.Tencent4,
    /// <summary><see cref="ToaLayout.Tencent6"/>.</summary>
    Tencent6 = 1 << ToaLayout.Tencent6,
    /// <summary><see cref="ToaLayout.Dpvs4"/>.</summary>
    Dpvs4 = 1 << ToaLayout.Dpvs4,
    /// <summary><see cref="ToaLayout.Dpvs6"/>.</summary>
    Dpvs6 = 1 << ToaLayout.Dpvs6,
    /// <summary><see cref="ToaLayout.AlibabaCdn4"/>.</summary>
    AlibabaCdn4 = 1 << ToaLayout.AlibabaCdn4,
    /// <summary><see cref="ToaLayout.AlibabaCdn6"/>.</summary>
    AlibabaCdn6 = 1 << ToaLayout.AlibabaCdn6,
    /// <summary><see cref="ToaLayout.UCloud4"/>.</summary>
    UCloud4 = 1 << ToaLayout.UCloud4,
    /// <summary>What Tencent's and the LVS/DPVS modules honour: 200/8, 253/20, 254/8, 254/20.</summary>
    Default = Tencent4 | Tencent6 | Dpvs4 | Dpvs6,
    /// <summary>Every known layout. 253/8 and 253/20 differ by length, so all can coexist.</summary>
    All = Default | AlibabaCdn4 | AlibabaCdn6 | UCloud4,
}

/// <summary>A load balancer family's choice of layouts, as users name it (<c>--format</c>).</summary>
public enum ToaFormat
{
    /// <summary>Tencent CLB: 200/8 for IPv4 clients, 253/20 for IPv6 clients.</summary>
    Tencent,
    /// <summary>LVS FULLNAT and DPVS: 254/8 and 254/20.</summary>
    Dpvs,
    /// <summary>Alibaba CDN: 28/7 and 28/19, no port.</summary>
    AlibabaCdn,
    /// <summary>UCloud "Akamai": 253/8, IPv4 clients only.</summary>
    UCloud,
}

/// <summary>Facts about each layout and format.</summary>
public static class ToaLayoutInfo
{
    private static readonly ToaLayout[] Layouts = Enum.GetValues<ToaLayout>();

    /// <summary>The option kind (first byte).</summary>
    public static byte Kind(this ToaLayout layout) => layout switch
    {
        ToaLayout.Tencent4 => 200,
        ToaLayout.Tencent6 or ToaLayout.UCloud4 => 253,
        ToaLayout.Dpvs4 or ToaLayout.Dpvs6 => 254,
        ToaLayout.AlibabaCdn4 or ToaLayout.AlibabaCdn6 => 28,
        _ => throw new ArgumentOutOfRangeException(nameof(layout), layout, null),
    };

    /// <summary>The option's total length (second byte).</summary>
    public static byte Length(this ToaLayout layout) => layout switch
    {
        ToaLayout.Tencent4 or ToaLayout.Dpvs4 or ToaLayout.UCloud4 => 8,
        ToaLayout.Tencent6 or ToaLayout.Dpvs6 => 20,
        ToaLayout.AlibabaCdn4 => 7,
        ToaLayout.AlibabaCdn6 => 19,
        _ => throw new ArgumentOutOfRangeException(nameof(layout), layout, null),
    };

    /// <summary>The family of the client address the layout carries.</summary>
    public static AddressFamily Family(this ToaLayout layout) => layout switch
    {
        ToaLayout.Tencent6 or ToaLayout.Dpvs6 or ToaLayout.AlibabaCdn6 => AddressFamily.InterNetworkV6,
        _ => AddressFamily.InterNetwork,
    };

    /// <summary>Whether the layout carries the client's port.</summary>
    public static bool HasPort(this ToaLayout layout) =>
        layout is not (ToaLayout.AlibabaCdn4 or ToaLayout.AlibabaCdn6);

    /// <summary>The format the layout belongs to.</summary>
    public static ToaFormat Format(this ToaLayout layout) => layout switch
    {
        ToaLayout.Tencent4 or ToaLayout.Tencent6 => ToaFormat.Tencent,
        ToaLayout.Dpvs4 or ToaLayout.Dpvs6 => ToaFormat.Dpvs,
        ToaLayout.AlibabaCdn4 or ToaLayout.AlibabaCdn6 => ToaFormat.AlibabaCdn,
        _ => ToaFormat.UCloud,
    };

    /// <summary>"kind/length", as operators and tcpdump speak of it: "200/8".</summary>
    public static string Describe(this ToaLayout layout) => $"{layout.Kind()}/{layout.Length()}";

    /// <summary>The flag of <paramref name="layout"/> in a <see cref="ToaLayouts"/> set.</summary>
    public static ToaLayouts AsSet(this ToaLayout layout) => (ToaLayouts)(1 << (int)layout);

    /// <summary>The layouts in a set.</summary>
    public static IEnumerable<ToaLayout> Members(this ToaLayouts set) =>
        Layouts.Where(l => (set & l.AsSet()) != 0);

    /// <summary>
    /// The layout an option's kind and length bytes name, among every known layout; false when none
    /// does. Kind and length together are unambiguous: 253/8 is UCloud's IPv4, 253/20 Tencent's IPv6.
    /// </summary>
    public static bool TryFind(byte kind, byte length, out ToaLayout layout)
    {
        foreach (var l in Layouts)
        {
            if (l.Kind() == kind && l.Length() == length)
            {
                layout = l;
                return true;
            }
        }
        layout = default;
        return false;
    }

    /// <summary>Whether some layout uses option kind <paramref name="kind"/> (28, 200, 253, 254).</summary>
    public static bool IsToaKind(byte kind) => Layouts.Any(l => l.Kind() == kind);

    /// <summary>
    /// Whether only TOAs use option kind <paramref name="kind"/> (200, 253), so that any other length
    /// is a broken TOA. Kind 28 is also the user timeout option and kind 254 is shared by RFC 6994's
    /// experiments (TCP Fast Open among them).
    /// </summary>
    public static bool IsToaOnlyKind(byte kind) => kind is 200 or 253;

    /// <summary>
    /// The layout <paramref name="format"/> uses for a client of <paramref name="family"/>;
    /// false when the format cannot carry that family.
    /// </summary>
    public static bool TryLayoutFor(this ToaFormat format, AddressFamily family, out ToaLayout layout)
    {
        var v6 = family == AddressFamily.InterNetworkV6;
        layout = format switch
        {
            ToaFormat.Tencent => v6 ? ToaLayout.Tencent6 : ToaLayout.Tencent4,
            ToaFormat.Dpvs => v6 ? ToaLayout.Dpvs6 : ToaLayout.Dpvs4,
            ToaFormat.AlibabaCdn => v6 ? ToaLayout.AlibabaCdn6 : ToaLayout.AlibabaCdn4,
            _ => ToaLayout.UCloud4,
        };
        return layout.Family() == family;
    }

    /// <summary>The name users type: tencent, dpvs, alibaba-cdn, ucloud.</summary>
    public static string Name(this ToaFormat format) => format switch
    {
        ToaFormat.Tencent => "tencent",
        ToaFormat.Dpvs => "dpvs",
        ToaFormat.AlibabaCdn => "alibaba-cdn",
        _ => "ucloud",
    };

    /// <summary>Parses a format name (<see cref="Name(ToaFormat)"/>), case-insensitively.</summary>
    public static bool TryParseFormat(string text, out ToaFormat format)
    {
        foreach (var f in Enum.GetValues<ToaFormat>())
        {
            if (string.Equals(f.Name(), text, StringComparison.OrdinalIgnoreCase))
            {
                format = f;
                return true;
            }
        }
        format = default;
        return false;
    }
}

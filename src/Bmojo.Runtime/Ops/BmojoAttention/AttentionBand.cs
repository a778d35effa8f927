using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Algorithms;

namespace Bmojo.Runtime.Ops.BmojoAttention;

/// <summary>
/// Which keys of one source a query sees (docs/bmojo-layer.md rules (a)-(c)): source 0 the window
/// <c>t - w &lt; j &lt;= t</c>, source 1 the fading band <c>t - w - m_f &lt; j &lt;= t - w</c> (both by position j),
/// source 2 the eidetic memory by rank r among the selected tokens, <c>S[t - w] - m_e &lt;= r &lt; S[t - w]</c>
/// (<c>edge = S[t - w]</c>, non-decreasing in t). Also the ranges the tiled kernels walk: the keys a block of
/// queries sees, the queries a block of keys is seen by, and whether a whole tile pair is visible (no mask needed).
/// </summary>
internal struct BandRule
{
    public int Source;
    public int Window;
    public int FadingTokens;
    public int EideticCapacity;

    public BandRule(int source, int window, int fadingTokens, int eideticCapacity)
    {
        Source = source;
        Window = window;
        FadingTokens = fadingTokens;
        EideticCapacity = eideticCapacity;
    }

    /// <summary>Query <paramref name="t"/> (whose edge is <paramref name="edge"/>) sees key <paramref name="key"/>.</summary>
    public readonly bool Sees(int t, int key, int edge) =>
        Source == 0 ? key > t - Window && key <= t
        : Source == 1 ? key > t - Window - FadingTokens && key <= t - Window
        : key >= edge - EideticCapacity && key < edge;

    /// <summary>Keys <c>[start, end)</c> that some query of <c>[first, last]</c> sees (empty: start == end).</summary>
    public readonly void Keys(int first, int last, int edgeFirst, int edgeLast, out int start, out int end)
    {
        if (Source == 0)
        {
            start = XMath.Max(0, first - Window + 1);
            end = Window > 0 ? last + 1 : start;
        }
        else if (Source == 1)
        {
            start = XMath.Max(0, first - Window - FadingTokens + 1);
            end = FadingTokens > 0 ? XMath.Max(start, last - Window + 1) : start;
        }
        else
        {
            start = XMath.Max(0, edgeFirst - EideticCapacity);
            end = EideticCapacity > 0 ? XMath.Max(start, edgeLast) : start;
        }
    }

    /// <summary>Queries <c>[first, last]</c> (empty: last &lt; first) that see some key of <c>[keyFirst, keyLast]</c>;
    /// the eidetic source searches the row's edge table (<paramref name="edges"/>, <paramref name="length"/> entries).</summary>
    public readonly void Queries(int keyFirst, int keyLast, int length, ArrayView<int> edges, int row, out int first, out int last)
    {
        if (Source == 0)
        {
            first = keyFirst;
            last = Window > 0 ? XMath.Min(length - 1, keyLast + Window - 1) : first - 1;
        }
        else if (Source == 1)
        {
            first = keyFirst + Window;
            last = FadingTokens > 0 ? XMath.Min(length - 1, keyLast + Window + FadingTokens - 1) : first - 1;
        }
        else
        {
            // edge(t) in [keyFirst + 1, keyLast + m_e]: the first t at or above the low end, the last at or below the high.
            first = FirstAtLeast(edges, row, length, keyFirst + 1);
            last = EideticCapacity > 0 ? FirstAtLeast(edges, row, length, keyLast + EideticCapacity + 1) - 1 : first - 1;
        }
    }

    /// <summary>Every query of <c>[first, last]</c> sees every key of <c>[keyFirst, keyLast]</c>.</summary>
    public readonly bool Covers(int first, int last, int keyFirst, int keyLast, int edgeFirst, int edgeLast) =>
        Source == 0 ? keyFirst > last - Window && keyLast <= first
        : Source == 1 ? keyFirst > last - Window - FadingTokens && keyLast <= first - Window
        : keyFirst >= edgeLast - EideticCapacity && keyLast < edgeFirst;

    // The first t in [0, length] with edges[row + t] >= value (length if none): a binary search, the table being sorted.
    private static int FirstAtLeast(ArrayView<int> edges, int row, int length, int value)
    {
        int low = 0, high = length;
        while (low < high)
        {
            int middle = (low + high) >> 1;
            if (edges[row + middle] >= value) high = middle;
            else low = middle + 1;
        }
        return low;
    }
}

/// <summary>Rows are queries, columns keys <c>First + column</c>: keeps visible scores, -inf elsewhere.</summary>
internal struct QueryBandMask : ITileOperation
{
    public BandRule Rule;
    public int First, End, Low, High, EdgeLow, EdgeHigh;

    public readonly float Apply(float value, int column, bool upper) => Visible(column, upper) ? value : float.NegativeInfinity;

    public readonly bool Visible(int column, bool upper)
    {
        int key = First + column;
        return key < End && Rule.Sees(upper ? High : Low, key, upper ? EdgeHigh : EdgeLow);
    }
}

/// <summary><c>exp2(value · scale - max)</c> with the row's max: the online softmax's unnormalised probabilities.</summary>
internal struct Exponent : ITileOperation
{
    public float Scale, Low, High;

    public readonly float Apply(float value, int column, bool upper) => XMath.Exp2(value * Scale - (upper ? High : Low));
}

/// <summary>Rows are queries: <c>P = exp2(s · scale - lse)</c> with the rows' saved log-sum-exp, 0 where the band
/// hides the key (<see cref="Masked"/> false: the whole tile is visible, no test per element).</summary>
internal struct QueryProbabilities : ITileOperation
{
    public QueryBandMask Mask;
    public bool Masked;
    public float Scale, LseLow, LseHigh;

    public readonly float Apply(float value, int column, bool upper) =>
        Masked && !Mask.Visible(column, upper) ? 0f
        : XMath.Exp2(value * Scale - (upper ? LseHigh : LseLow));
}

/// <summary>Rows are keys (<see cref="Low"/>, <see cref="High"/>: position or rank, -1 outside), columns queries
/// <c>First + column</c> with their log-sum-exp and edge staged in shared memory: <c>Pᵀ</c>, 0 where hidden.</summary>
internal struct KeyProbabilities : ITileOperation
{
    public BandRule Rule;
    public bool Masked;
    public int First, End, Low, High;
    public float Scale;
    public ArrayView<uint> Lse, Edges;         // 64 floats (as bits) and 64 ints of the query tile

    public readonly float Apply(float value, int column, bool upper)
    {
        int key = upper ? High : Low, t = First + column;
        if (Masked && !(key >= 0 && t < End && Rule.Sees(t, key, (int)Edges[column]))) return 0f;
        return XMath.Exp2(value * Scale - Interop.IntAsFloat(Lse[column]));
    }
}

/// <summary><c>dS = P ∘ (dP - D)</c> with D of the rows (queries in rows).</summary>
internal struct RowDelta : ITilePairOperation
{
    public float Low, High;

    public readonly float Apply(float value, float other, int column, bool upper) => value * (other - (upper ? High : Low));
}

/// <summary><c>dSᵀ = Pᵀ ∘ (dPᵀ - D)</c> with D of the columns (queries in columns, staged in shared memory).</summary>
internal struct ColumnDelta : ITilePairOperation
{
    public ArrayView<uint> Delta;              // 64 floats (as bits)

    public readonly float Apply(float value, float other, int column, bool upper) => value * (other - Interop.IntAsFloat(Delta[column]));
}

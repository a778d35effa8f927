using ILGPU;

namespace Bmojo.Runtime.Kernels;

/// <summary>
/// Moving 64 x 64 bf16 tiles between global rows and the n-major shared tiles of <see cref="Mma"/>, by a block of
/// 128 threads (4 warps). Which global rows make a tile is a list of 64 uint offsets staged in shared memory first
/// (a row's offset in uints, or -1 as bits for a row outside the tensor: zeros), so positions, gathered eidetic
/// ranks and query rows are all staged the same way. And writing a warp's accumulator rows back.
/// </summary>
internal static class SharedTiles
{
    /// <summary>Threads of a block of the tensor-core kernels.</summary>
    public const int Threads = 128;

    /// <summary>The "no row" offset.</summary>
    public const uint NoRow = 0xFFFFFFFFu;

    /// <summary>Tile row i = global row <c>offsets[i]</c>: coalesced, a warp reading one 128-byte row at a time.</summary>
    public static void StageRows(ArrayView<uint> tile, ArrayView<uint> source, ArrayView<uint> offsets, int thread)
    {
        int u = thread & 31;
        for (int i = thread >> 5; i < Mma.Size; i += Threads / 32)
        {
            uint at = offsets[i];
            tile[i * Mma.Stride + u] = at == NoRow ? 0u : source[(int)at + u];
        }
    }

    /// <summary>Tile row d (a dimension) = column d of the 64 global rows, as pairs of rows: the tile for products
    /// whose k runs along the rows (<c>P · V</c>, <c>dSᵀ · Q</c>). A warp writes 8 row pairs x 4 dimension pairs, which
    /// fall in distinct banks.</summary>
    public static void StageTransposed(ArrayView<uint> tile, ArrayView<uint> source, ArrayView<uint> offsets, int thread)
    {
        int lane = thread & 31, warp = thread >> 5;
        for (int r = 0; r < 8; r++)
        {
            int part = warp * 8 + r;                        // 32 parts of 8 row pairs x 4 dimension pairs
            int rows = (lane & 7) + 8 * (part & 3);         // row pair: rows 2 rows, 2 rows + 1
            int dims = (lane >> 3) + 4 * (part >> 2);       // dimension pair: uint index in a row
            uint first = offsets[2 * rows], second = offsets[2 * rows + 1];
            uint a = first == NoRow ? 0u : source[(int)first + dims];
            uint b = second == NoRow ? 0u : source[(int)second + dims];
            tile[2 * dims * Mma.Stride + rows] = Bf16.Lows(a, b);
            tile[(2 * dims + 1) * Mma.Stride + rows] = Bf16.Highs(a, b);
        }
    }

    /// <summary>Writes a warp's rows g and g + 8 (uint offsets of 64-bf16 rows, -1: skip) scaled per row, as bf16.</summary>
    public static void StoreBf16(ArrayView<uint> rows, int low, int high, Tile16x64 t, float scaleLow, float scaleHigh, int lane)
    {
        int c = lane & 3;
        if (low >= 0)
        {
            rows[low + c] = Bf16.Pack(t.N0.C0 * scaleLow, t.N0.C1 * scaleLow);
            rows[low + 4 + c] = Bf16.Pack(t.N1.C0 * scaleLow, t.N1.C1 * scaleLow);
            rows[low + 8 + c] = Bf16.Pack(t.N2.C0 * scaleLow, t.N2.C1 * scaleLow);
            rows[low + 12 + c] = Bf16.Pack(t.N3.C0 * scaleLow, t.N3.C1 * scaleLow);
            rows[low + 16 + c] = Bf16.Pack(t.N4.C0 * scaleLow, t.N4.C1 * scaleLow);
            rows[low + 20 + c] = Bf16.Pack(t.N5.C0 * scaleLow, t.N5.C1 * scaleLow);
            rows[low + 24 + c] = Bf16.Pack(t.N6.C0 * scaleLow, t.N6.C1 * scaleLow);
            rows[low + 28 + c] = Bf16.Pack(t.N7.C0 * scaleLow, t.N7.C1 * scaleLow);
        }
        if (high >= 0)
        {
            rows[high + c] = Bf16.Pack(t.N0.C2 * scaleHigh, t.N0.C3 * scaleHigh);
            rows[high + 4 + c] = Bf16.Pack(t.N1.C2 * scaleHigh, t.N1.C3 * scaleHigh);
            rows[high + 8 + c] = Bf16.Pack(t.N2.C2 * scaleHigh, t.N2.C3 * scaleHigh);
            rows[high + 12 + c] = Bf16.Pack(t.N3.C2 * scaleHigh, t.N3.C3 * scaleHigh);
            rows[high + 16 + c] = Bf16.Pack(t.N4.C2 * scaleHigh, t.N4.C3 * scaleHigh);
            rows[high + 20 + c] = Bf16.Pack(t.N5.C2 * scaleHigh, t.N5.C3 * scaleHigh);
            rows[high + 24 + c] = Bf16.Pack(t.N6.C2 * scaleHigh, t.N6.C3 * scaleHigh);
            rows[high + 28 + c] = Bf16.Pack(t.N7.C2 * scaleHigh, t.N7.C3 * scaleHigh);
        }
    }

    /// <summary>Writes a warp's rows g and g + 8 (float offsets of 64-float rows, -1: skip) times <paramref name="scale"/>.</summary>
    public static void StoreFloat(ArrayView<float> rows, int low, int high, Tile16x64 t, float scale, int lane)
    {
        int c2 = 2 * (lane & 3);
        if (low >= 0)
        {
            Store(rows, low + c2, t.N0.C0, t.N0.C1, scale); Store(rows, low + 8 + c2, t.N1.C0, t.N1.C1, scale);
            Store(rows, low + 16 + c2, t.N2.C0, t.N2.C1, scale); Store(rows, low + 24 + c2, t.N3.C0, t.N3.C1, scale);
            Store(rows, low + 32 + c2, t.N4.C0, t.N4.C1, scale); Store(rows, low + 40 + c2, t.N5.C0, t.N5.C1, scale);
            Store(rows, low + 48 + c2, t.N6.C0, t.N6.C1, scale); Store(rows, low + 56 + c2, t.N7.C0, t.N7.C1, scale);
        }
        if (high >= 0)
        {
            Store(rows, high + c2, t.N0.C2, t.N0.C3, scale); Store(rows, high + 8 + c2, t.N1.C2, t.N1.C3, scale);
            Store(rows, high + 16 + c2, t.N2.C2, t.N2.C3, scale); Store(rows, high + 24 + c2, t.N3.C2, t.N3.C3, scale);
            Store(rows, high + 32 + c2, t.N4.C2, t.N4.C3, scale); Store(rows, high + 40 + c2, t.N5.C2, t.N5.C3, scale);
            Store(rows, high + 48 + c2, t.N6.C2, t.N6.C3, scale); Store(rows, high + 56 + c2, t.N7.C2, t.N7.C3, scale);
        }
    }

    private static void Store(ArrayView<float> rows, int at, float a, float b, float scale)
    {
        rows[at] = a * scale;
        rows[at + 1] = b * scale;
    }
}

using ILGPU;

namespace Bmojo.Runtime.Gpu;

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
    public static void StageRows(SharedTile tile, ArrayView<uint> source, ArrayView<uint> offsets, int thread)
    {
        int u = thread & 31;
        for (int i = thread >> 5; i < Mma.Size; i += Threads / 32)
        {
            uint at = offsets[i];
            tile.View[i * Mma.Stride + u] = at == NoRow ? 0u : source[(int)at + u];
        }
    }

    /// <summary>Tile row d (a dimension) = column d of the 64 global rows, as pairs of rows: the tile for products
    /// whose k runs along the rows (<c>P · V</c>, <c>dSᵀ · Q</c>). A warp writes 8 row pairs x 4 dimension pairs, which
    /// fall in distinct banks.</summary>
    public static void StageTransposed(SharedTile tile, ArrayView<uint> source, ArrayView<uint> offsets, int thread)
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
            tile.View[2 * dims * Mma.Stride + rows] = Bf16.Lows(a, b);
            tile.View[(2 * dims + 1) * Mma.Stride + rows] = Bf16.Highs(a, b);
        }
    }

    /// <summary>Writes a warp's rows g and g + 8 (uint offsets of 64-bf16 rows, -1: skip) scaled per row, as bf16.</summary>
    public static void StoreBf16<TCores>(ArrayView<uint> rows, int low, int high, Tile16x64 t, float scaleLow, float scaleHigh, int lane)
        where TCores : struct, ITensorCores
    {
        if (low >= 0) StoreBf16Row<TCores>(rows, low + (lane & 3), t, scaleLow, upper: false);
        if (high >= 0) StoreBf16Row<TCores>(rows, high + (lane & 3), t, scaleHigh, upper: true);
    }

    /// <summary>Writes a warp's rows g and g + 8 (float offsets of 64-float rows, -1: skip) times <paramref name="scale"/>.</summary>
    public static void StoreFloat(ArrayView<float> rows, int low, int high, Tile16x64 t, float scale, int lane)
    {
        if (low >= 0) StoreFloatRow(rows, low + 2 * (lane & 3), t, scale, upper: false);
        if (high >= 0) StoreFloatRow(rows, high + 2 * (lane & 3), t, scale, upper: true);
    }

    // The lane's columns of one of its rows: fragment j holds columns 8j + 2c, 8j + 2c + 1 (a bf16 pair at uint 4j + c).
    private static void StoreBf16Row<TCores>(ArrayView<uint> rows, int at, Tile16x64 t, float scale, bool upper)
        where TCores : struct, ITensorCores
    {
        TCores cores = default;
        rows[at] = Pair(cores, t.N0, scale, upper);
        rows[at + 4] = Pair(cores, t.N1, scale, upper);
        rows[at + 8] = Pair(cores, t.N2, scale, upper);
        rows[at + 12] = Pair(cores, t.N3, scale, upper);
        rows[at + 16] = Pair(cores, t.N4, scale, upper);
        rows[at + 20] = Pair(cores, t.N5, scale, upper);
        rows[at + 24] = Pair(cores, t.N6, scale, upper);
        rows[at + 28] = Pair(cores, t.N7, scale, upper);
    }

    private static uint Pair<TCores>(TCores cores, Fragment f, float scale, bool upper) where TCores : struct, ITensorCores =>
        upper ? cores.Pair(f.C2 * scale, f.C3 * scale) : cores.Pair(f.C0 * scale, f.C1 * scale);

    private static void StoreFloatRow(ArrayView<float> rows, int at, Tile16x64 t, float scale, bool upper)
    {
        Store(rows, at, t.N0, scale, upper); Store(rows, at + 8, t.N1, scale, upper);
        Store(rows, at + 16, t.N2, scale, upper); Store(rows, at + 24, t.N3, scale, upper);
        Store(rows, at + 32, t.N4, scale, upper); Store(rows, at + 40, t.N5, scale, upper);
        Store(rows, at + 48, t.N6, scale, upper); Store(rows, at + 56, t.N7, scale, upper);
    }

    private static void Store(ArrayView<float> rows, int at, Fragment f, float scale, bool upper)
    {
        rows[at] = (upper ? f.C2 : f.C0) * scale;
        rows[at + 1] = (upper ? f.C3 : f.C1) * scale;
    }
}

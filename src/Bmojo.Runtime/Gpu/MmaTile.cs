using ILGPU;

namespace Bmojo.Runtime.Gpu;

/// <summary>One m16n8 fp32 accumulator fragment of a warp's <c>mma.m16n8k16</c>: lane (g = lane / 4, c = lane % 4)
/// holds rows g (<see cref="C0"/>, <see cref="C1"/>) and g + 8 (<see cref="C2"/>, <see cref="C3"/>), columns 2c, 2c + 1.</summary>
internal struct Fragment
{
    public float C0, C1, C2, C3;
}

/// <summary>A warp's 16 x 64 fp32 tile in the accumulator layout: eight fragments, <c>Nj</c> holding columns
/// 8j .. 8j + 7. Fields, not an array: ILGPU keeps fields in registers, arrays go to local memory.</summary>
internal struct Tile16x64
{
    public Fragment N0, N1, N2, N3, N4, N5, N6, N7;
}

/// <summary>A 64 x 64 bf16 tile in shared memory: its view and where it starts (in uints) in the kernel's dynamic
/// shared memory, which the tensor-core asm addresses directly.</summary>
internal readonly struct SharedTile
{
    public readonly ArrayView<uint> View;
    public readonly int Offset;

    private SharedTile(ArrayView<uint> view, int offset)
    {
        View = view;
        Offset = offset;
    }

    /// <summary>The tile of <see cref="Mma.TileUints"/> uints at <paramref name="offset"/> of the dynamic shared memory.</summary>
    public static SharedTile At(ArrayView<uint> dynamicShared, int offset) => new(dynamicShared.SubView(offset, Mma.TileUints), offset);
}

/// <summary>A warp's 16 x 64 bf16 tile as the A operand of four <c>mma.m16n8k16</c> k-steps: registers
/// <c>A[4s + i]</c> hold k-step s (columns 16s .. 16s + 15): i = 0 row g, columns 2c, 2c + 1; i = 1 row g + 8, same
/// columns; i = 2 row g, columns 2c + 8, 2c + 9; i = 3 row g + 8, those columns (PTX ISA, mma.m16n8k16 .bf16).</summary>
internal struct Operand16x64
{
    public uint A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15;
}

/// <summary>An element-wise operation on a tile, given each element's column (0-63) and whether it is in the upper
/// row (g + 8) of the lane's two rows. Generic struct operations are inlined by ILGPU.</summary>
internal interface ITileOperation
{
    float Apply(float value, int column, bool upper);
}

/// <summary>An element-wise operation of two tiles of the same layout.</summary>
internal interface ITilePairOperation
{
    float Apply(float value, float other, int column, bool upper);
}

/// <summary>
/// Layout and helpers of the bf16 tensor-core tiles of the attention kernels (64 x 64, fp32 accumulation); the
/// products themselves are an <see cref="ITensorCores"/> (<see cref="CudaTensorCores"/>, <see cref="EmulatedTensorCores"/>). A shared-memory tile is "n-major": row n (64 rows) holds the 64
/// bf16 values along k as 32 uints, rows <see cref="Stride"/> uints apart (36: the eight rows g of a fragment load
/// then fall in distinct banks).
/// </summary>
internal static class Mma
{
    /// <summary>Rows of a shared tile are this many uints apart (32 of data, 4 of padding).</summary>
    public const int Stride = 36;

    /// <summary>uints of one shared 64 x 64 bf16 tile.</summary>
    public const int TileUints = 64 * Stride;

    /// <summary>Columns of a tile, rows of a block (4 warps of 16 rows), head size of the tensor-core kernels.</summary>
    public const int Size = 64;

    /// <summary>A warp's A operand read straight from global rows of 64 bf16 (32 uints): <paramref name="low"/> and
    /// <paramref name="high"/> are the uint offsets of rows g and g + 8, or -1 for a row outside the tensor (zeros).</summary>
    public static Operand16x64 LoadRows(ArrayView<uint> rows, int low, int high, int lane)
    {
        int c = lane & 3;
        return new Operand16x64
        {
            A0 = Read(rows, low, c), A1 = Read(rows, high, c), A2 = Read(rows, low, 4 + c), A3 = Read(rows, high, 4 + c),
            A4 = Read(rows, low, 8 + c), A5 = Read(rows, high, 8 + c), A6 = Read(rows, low, 12 + c), A7 = Read(rows, high, 12 + c),
            A8 = Read(rows, low, 16 + c), A9 = Read(rows, high, 16 + c), A10 = Read(rows, low, 20 + c), A11 = Read(rows, high, 20 + c),
            A12 = Read(rows, low, 24 + c), A13 = Read(rows, high, 24 + c), A14 = Read(rows, low, 28 + c), A15 = Read(rows, high, 28 + c),
        };
    }

    private static uint Read(ArrayView<uint> rows, int row, int offset) => row < 0 ? 0u : rows[row + offset];

    /// <summary>Applies <paramref name="op"/> to every element the lane holds (its two rows, 16 columns each).</summary>
    public static void Map<TOp>(ref Tile16x64 t, TOp op, int lane) where TOp : struct, ITileOperation
    {
        int c2 = 2 * (lane & 3);
        Map(ref t.N0, op, c2);
        Map(ref t.N1, op, 8 + c2);
        Map(ref t.N2, op, 16 + c2);
        Map(ref t.N3, op, 24 + c2);
        Map(ref t.N4, op, 32 + c2);
        Map(ref t.N5, op, 40 + c2);
        Map(ref t.N6, op, 48 + c2);
        Map(ref t.N7, op, 56 + c2);
    }

    private static void Map<TOp>(ref Fragment f, TOp op, int column) where TOp : struct, ITileOperation
    {
        f.C0 = op.Apply(f.C0, column, false);
        f.C1 = op.Apply(f.C1, column + 1, false);
        f.C2 = op.Apply(f.C2, column, true);
        f.C3 = op.Apply(f.C3, column + 1, true);
    }

    /// <summary><c>t = op(t, other)</c> element by element.</summary>
    public static void Combine<TOp>(ref Tile16x64 t, Tile16x64 other, TOp op, int lane) where TOp : struct, ITilePairOperation
    {
        int c2 = 2 * (lane & 3);
        Combine(ref t.N0, other.N0, op, c2);
        Combine(ref t.N1, other.N1, op, 8 + c2);
        Combine(ref t.N2, other.N2, op, 16 + c2);
        Combine(ref t.N3, other.N3, op, 24 + c2);
        Combine(ref t.N4, other.N4, op, 32 + c2);
        Combine(ref t.N5, other.N5, op, 40 + c2);
        Combine(ref t.N6, other.N6, op, 48 + c2);
        Combine(ref t.N7, other.N7, op, 56 + c2);
    }

    private static void Combine<TOp>(ref Fragment f, Fragment o, TOp op, int column) where TOp : struct, ITilePairOperation
    {
        f.C0 = op.Apply(f.C0, o.C0, column, false);
        f.C1 = op.Apply(f.C1, o.C1, column + 1, false);
        f.C2 = op.Apply(f.C2, o.C2, column, true);
        f.C3 = op.Apply(f.C3, o.C3, column + 1, true);
    }

    /// <summary>The maximum of each of the lane's two rows over the whole tile (all four lanes of a row agree).</summary>
    public static void RowMax(Tile16x64 t, out float low, out float high)
    {
        low = Max(Max(Max(t.N0.C0, t.N0.C1), Max(t.N1.C0, t.N1.C1)), Max(Max(t.N2.C0, t.N2.C1), Max(t.N3.C0, t.N3.C1)));
        low = Max(low, Max(Max(Max(t.N4.C0, t.N4.C1), Max(t.N5.C0, t.N5.C1)), Max(Max(t.N6.C0, t.N6.C1), Max(t.N7.C0, t.N7.C1))));
        high = Max(Max(Max(t.N0.C2, t.N0.C3), Max(t.N1.C2, t.N1.C3)), Max(Max(t.N2.C2, t.N2.C3), Max(t.N3.C2, t.N3.C3)));
        high = Max(high, Max(Max(Max(t.N4.C2, t.N4.C3), Max(t.N5.C2, t.N5.C3)), Max(Max(t.N6.C2, t.N6.C3), Max(t.N7.C2, t.N7.C3))));
        low = Max(low, Warp.ShuffleXor(low, 1));
        low = Max(low, Warp.ShuffleXor(low, 2));
        high = Max(high, Warp.ShuffleXor(high, 1));
        high = Max(high, Warp.ShuffleXor(high, 2));
    }

    /// <summary>The lane's own part of each row's sum (its 16 columns); add the four lanes of a row with
    /// <see cref="SumOverRow"/> once, at the end.</summary>
    public static void PartialRowSums(Tile16x64 t, out float low, out float high)
    {
        low = t.N0.C0 + t.N0.C1 + t.N1.C0 + t.N1.C1 + t.N2.C0 + t.N2.C1 + t.N3.C0 + t.N3.C1
              + t.N4.C0 + t.N4.C1 + t.N5.C0 + t.N5.C1 + t.N6.C0 + t.N6.C1 + t.N7.C0 + t.N7.C1;
        high = t.N0.C2 + t.N0.C3 + t.N1.C2 + t.N1.C3 + t.N2.C2 + t.N2.C3 + t.N3.C2 + t.N3.C3
               + t.N4.C2 + t.N4.C3 + t.N5.C2 + t.N5.C3 + t.N6.C2 + t.N6.C3 + t.N7.C2 + t.N7.C3;
    }

    /// <summary>The sum of a per-lane partial over the four lanes that share a row.</summary>
    public static float SumOverRow(float partial)
    {
        partial += Warp.ShuffleXor(partial, 1);
        return partial + Warp.ShuffleXor(partial, 2);
    }

    /// <summary>Multiplies the lane's row g by <paramref name="low"/> and row g + 8 by <paramref name="high"/>.</summary>
    public static void ScaleRows(ref Tile16x64 t, float low, float high)
    {
        Scale(ref t.N0, low, high); Scale(ref t.N1, low, high); Scale(ref t.N2, low, high); Scale(ref t.N3, low, high);
        Scale(ref t.N4, low, high); Scale(ref t.N5, low, high); Scale(ref t.N6, low, high); Scale(ref t.N7, low, high);
    }

    private static void Scale(ref Fragment f, float low, float high)
    {
        f.C0 *= low; f.C1 *= low; f.C2 *= high; f.C3 *= high;
    }

    private static float Max(float a, float b) => a > b ? a : b;
}

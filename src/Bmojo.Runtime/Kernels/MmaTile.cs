using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Bmojo.Runtime.Kernels;

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
/// Warp-level bf16 tensor-core products for attention tiles of 64 x 64 with fp32 accumulation: on CUDA one
/// <c>mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32</c> per 16 x 8 x 16 step (inline PTX), on ILGPU's CPU
/// accelerator the same product computed from the same A fragments (gathered across the warp with shuffles, as the
/// hardware does) and the same shared tile, so the CPU tests exercise every index of the operand layout. A shared-memory tile is "n-major": row n (64 rows) holds the 64
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

    // d += a · b for one 16 x 8 x 16 step, on the tensor cores (CUDA only).
    private static void Multiply(ref Fragment d, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
    {
        Output<float> d0 = default, d1 = default, d2 = default, d3 = default;
        Input<uint> x0 = a0, x1 = a1, x2 = a2, x3 = a3, y0 = b0, y1 = b1;
        Input<float> c0 = d.C0, c1 = d.C1, c2 = d.C2, c3 = d.C3;
        // ILGPU passes asm operands through local variables; ptxas keeps them in registers (0-byte stack frame,
        // checked with ptxas -v on the H200).
        CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};",
                        ref d0, ref d1, ref d2, ref d3, ref x0, ref x1, ref x2, ref x3, ref y0, ref y1, ref c0, ref c1, ref c2, ref c3);
        d.C0 = d0.Value; d.C1 = d1.Value; d.C2 = d2.Value; d.C3 = d3.Value;
    }

    /// <summary><c>acc += a · tileᵀ</c>: a (16 x 64, k along columns) times the n-major shared tile (64 n x 64 k).</summary>
    public static void Accumulate(ref Tile16x64 acc, Operand16x64 a, ArrayView<uint> tile, int lane)
    {
        if (!CudaAsm.IsSupported)
        {
            Emulate(ref acc, a, tile, lane);
            return;
        }
        int at = (lane >> 2) * Stride + (lane & 3);
        Column(ref acc.N0, a, tile, at);
        Column(ref acc.N1, a, tile, at + 8 * Stride);
        Column(ref acc.N2, a, tile, at + 16 * Stride);
        Column(ref acc.N3, a, tile, at + 24 * Stride);
        Column(ref acc.N4, a, tile, at + 32 * Stride);
        Column(ref acc.N5, a, tile, at + 40 * Stride);
        Column(ref acc.N6, a, tile, at + 48 * Stride);
        Column(ref acc.N7, a, tile, at + 56 * Stride);
    }

    // One n-tile of 8 columns over the four k-steps: b0 = row n, uints 8s + c; b1 = uints 8s + 4 + c.
    private static void Column(ref Fragment d, Operand16x64 a, ArrayView<uint> tile, int at)
    {
        Multiply(ref d, a.A0, a.A1, a.A2, a.A3, tile[at], tile[at + 4]);
        Multiply(ref d, a.A4, a.A5, a.A6, a.A7, tile[at + 8], tile[at + 12]);
        Multiply(ref d, a.A8, a.A9, a.A10, a.A11, tile[at + 16], tile[at + 20]);
        Multiply(ref d, a.A12, a.A13, a.A14, a.A15, tile[at + 24], tile[at + 28]);
    }

    // The same product on ILGPU's CPU accelerator, from the same fragments: the lane gathers its rows g and g + 8 of A
    // from the four lanes that hold them (lane 4g + q has columns 16s + 2q, +1 in register 4s and 16s + 8 + 2q, +1 in
    // register 4s + 2; rows g + 8 in registers 4s + 1 and 4s + 3) and reads B from the shared tile directly.
    private static void Emulate(ref Tile16x64 acc, Operand16x64 a, ArrayView<uint> tile, int lane)
    {
        int g = lane >> 2, c = lane & 3;
        ArrayView<float> rows = LocalMemory.Allocate<float>(2 * Size);     // rows g and g + 8 of A
        for (int q = 0; q < 4; q++)
            for (int r = 0; r < 16; r++)
            {
                uint pair = Warp.Shuffle(Register(a, r), 4 * g + q);
                int step = r >> 2, kind = r & 3;
                int column = 16 * step + 2 * q + (kind >= 2 ? 8 : 0), row = (kind & 1) * Size;
                rows[row + column] = Bf16.Low(pair);
                rows[row + column + 1] = Bf16.High(pair);
            }
        for (int j = 0; j < 8; j++)
        {
            Fragment f = Get(acc, j);
            f.C0 += Dot(rows, 0, tile, (8 * j + 2 * c) * Stride);
            f.C1 += Dot(rows, 0, tile, (8 * j + 2 * c + 1) * Stride);
            f.C2 += Dot(rows, Size, tile, (8 * j + 2 * c) * Stride);
            f.C3 += Dot(rows, Size, tile, (8 * j + 2 * c + 1) * Stride);
            Set(ref acc, j, f);
        }
    }

    private static float Dot(ArrayView<float> rows, int row, ArrayView<uint> tile, int at)
    {
        float sum = 0f;
        for (int u = 0; u < Size / 2; u++)
            sum += rows[row + 2 * u] * Bf16.Low(tile[at + u]) + rows[row + 2 * u + 1] * Bf16.High(tile[at + u]);
        return sum;
    }

    private static uint Register(Operand16x64 a, int r) => r switch
    {
        0 => a.A0, 1 => a.A1, 2 => a.A2, 3 => a.A3, 4 => a.A4, 5 => a.A5, 6 => a.A6, 7 => a.A7,
        8 => a.A8, 9 => a.A9, 10 => a.A10, 11 => a.A11, 12 => a.A12, 13 => a.A13, 14 => a.A14, _ => a.A15,
    };

    private static Fragment Get(Tile16x64 t, int j) => j switch
    {
        0 => t.N0, 1 => t.N1, 2 => t.N2, 3 => t.N3, 4 => t.N4, 5 => t.N5, 6 => t.N6, _ => t.N7,
    };

    private static void Set(ref Tile16x64 t, int j, Fragment f)
    {
        switch (j)
        {
            case 0: t.N0 = f; break;
            case 1: t.N1 = f; break;
            case 2: t.N2 = f; break;
            case 3: t.N3 = f; break;
            case 4: t.N4 = f; break;
            case 5: t.N5 = f; break;
            case 6: t.N6 = f; break;
            default: t.N7 = f; break;
        }
    }

    /// <summary>An accumulator tile rounded to bf16 as an A operand (k = its 64 columns): two adjacent n-tiles of
    /// the accumulator are exactly one k-step of the operand, so P and dS never leave the registers.</summary>
    public static Operand16x64 Pack(Tile16x64 t) => new()
    {
        A0 = Bf16.Pack(t.N0.C0, t.N0.C1), A1 = Bf16.Pack(t.N0.C2, t.N0.C3), A2 = Bf16.Pack(t.N1.C0, t.N1.C1), A3 = Bf16.Pack(t.N1.C2, t.N1.C3),
        A4 = Bf16.Pack(t.N2.C0, t.N2.C1), A5 = Bf16.Pack(t.N2.C2, t.N2.C3), A6 = Bf16.Pack(t.N3.C0, t.N3.C1), A7 = Bf16.Pack(t.N3.C2, t.N3.C3),
        A8 = Bf16.Pack(t.N4.C0, t.N4.C1), A9 = Bf16.Pack(t.N4.C2, t.N4.C3), A10 = Bf16.Pack(t.N5.C0, t.N5.C1), A11 = Bf16.Pack(t.N5.C2, t.N5.C3),
        A12 = Bf16.Pack(t.N6.C0, t.N6.C1), A13 = Bf16.Pack(t.N6.C2, t.N6.C3), A14 = Bf16.Pack(t.N7.C0, t.N7.C1), A15 = Bf16.Pack(t.N7.C2, t.N7.C3),
    };

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

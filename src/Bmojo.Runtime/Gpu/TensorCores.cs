using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Bmojo.Runtime.Gpu;

/// <summary>
/// The tensor-core operations of the attention kernels, one implementation per accelerator: the kernels are generic
/// in it and each accelerator loads its own instance, so CUDA code carries no emulation and the CPU none of the asm.
/// </summary>
internal interface ITensorCores
{
    /// <summary><c>acc += a · tileᵀ</c>: a (16 x 64, k along columns) times the n-major shared tile (64 n x 64 k).</summary>
    void Accumulate(ref Tile16x64 acc, Operand16x64 a, SharedTile tile, int lane);

    /// <summary>An accumulator tile rounded to bf16 as an A operand (k = its 64 columns): two adjacent n-tiles of the
    /// accumulator are exactly one k-step of the operand, so P and dS never leave the registers.</summary>
    Operand16x64 Pack(Tile16x64 t);

    /// <summary>Two floats rounded to bf16 (nearest even) as a pair.</summary>
    uint Pair(float low, float high);
}

/// <summary>The H200's tensor cores: <c>mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32</c> through inline PTX.</summary>
internal readonly struct CudaTensorCores : ITensorCores
{
    public void Accumulate(ref Tile16x64 acc, Operand16x64 a, SharedTile tile, int lane) =>
        // The lane's first B fragment: row n = g, uint c (b0 of n-tile 0, k-step 0); the rest are fixed offsets from it.
        Product(ref acc, a, 4 * (tile.Offset + (lane >> 2) * Mma.Stride + (lane & 3)));

    public Operand16x64 Pack(Tile16x64 t)
    {
        Operand16x64 a = default;
        PackHalf(t.N0, t.N1, t.N2, t.N3, out a.A0, out a.A1, out a.A2, out a.A3, out a.A4, out a.A5, out a.A6, out a.A7);
        PackHalf(t.N4, t.N5, t.N6, t.N7, out a.A8, out a.A9, out a.A10, out a.A11, out a.A12, out a.A13, out a.A14, out a.A15);
        return a;
    }

    public uint Pair(float low, float high)
    {
        CudaAsm.Emit("cvt.rn.bf16x2.f32 %0, %1, %2;", out uint packed, high, low);
        return packed;
    }

    // acc += a · tileᵀ in one asm block: the lane's 64 B fragments loaded from shared memory at fixed offsets
    // from its first one, then the 32 mma of the 16 x 64 x 64 product (41 operands, the most ILGPU passes: few
    // asm operands, which ILGPU routes through local variables, and no per-load address arithmetic).
    private static void Product(ref Tile16x64 acc, Operand16x64 a, int offset)
    {
        Ref<float> c0 = acc.N0.C0, c1 = acc.N0.C1, c2 = acc.N0.C2, c3 = acc.N0.C3;
        Ref<float> c4 = acc.N1.C0, c5 = acc.N1.C1, c6 = acc.N1.C2, c7 = acc.N1.C3;
        Ref<float> c8 = acc.N2.C0, c9 = acc.N2.C1, c10 = acc.N2.C2, c11 = acc.N2.C3;
        Ref<float> c12 = acc.N3.C0, c13 = acc.N3.C1, c14 = acc.N3.C2, c15 = acc.N3.C3;
        Ref<float> c16 = acc.N4.C0, c17 = acc.N4.C1, c18 = acc.N4.C2, c19 = acc.N4.C3;
        Ref<float> c20 = acc.N5.C0, c21 = acc.N5.C1, c22 = acc.N5.C2, c23 = acc.N5.C3;
        Ref<float> c24 = acc.N6.C0, c25 = acc.N6.C1, c26 = acc.N6.C2, c27 = acc.N6.C3;
        Ref<float> c28 = acc.N7.C0, c29 = acc.N7.C1, c30 = acc.N7.C2, c31 = acc.N7.C3;
        Input<ulong> p0 = Registers(a.A0, a.A1), p1 = Registers(a.A2, a.A3), p2 = Registers(a.A4, a.A5), p3 = Registers(a.A6, a.A7), p4 = Registers(a.A8, a.A9), p5 = Registers(a.A10, a.A11), p6 = Registers(a.A12, a.A13), p7 = Registers(a.A14, a.A15);
        Input<int> at = offset;
        CudaAsm.EmitRef(TileProduct, ref c0, ref c1, ref c2, ref c3, ref c4, ref c5, ref c6, ref c7, ref c8, ref c9, ref c10, ref c11, ref c12, ref c13, ref c14, ref c15, ref c16, ref c17, ref c18, ref c19, ref c20, ref c21, ref c22, ref c23, ref c24, ref c25, ref c26, ref c27, ref c28, ref c29, ref c30, ref c31, ref p0, ref p1, ref p2, ref p3, ref p4, ref p5, ref p6, ref p7, ref at);
        acc.N0 = new Fragment { C0 = c0.Value, C1 = c1.Value, C2 = c2.Value, C3 = c3.Value };
        acc.N1 = new Fragment { C0 = c4.Value, C1 = c5.Value, C2 = c6.Value, C3 = c7.Value };
        acc.N2 = new Fragment { C0 = c8.Value, C1 = c9.Value, C2 = c10.Value, C3 = c11.Value };
        acc.N3 = new Fragment { C0 = c12.Value, C1 = c13.Value, C2 = c14.Value, C3 = c15.Value };
        acc.N4 = new Fragment { C0 = c16.Value, C1 = c17.Value, C2 = c18.Value, C3 = c19.Value };
        acc.N5 = new Fragment { C0 = c20.Value, C1 = c21.Value, C2 = c22.Value, C3 = c23.Value };
        acc.N6 = new Fragment { C0 = c24.Value, C1 = c25.Value, C2 = c26.Value, C3 = c27.Value };
        acc.N7 = new Fragment { C0 = c28.Value, C1 = c29.Value, C2 = c30.Value, C3 = c31.Value };
    }

    // Operands: %0-%31 the accumulators (fragment j, element e at 4j + e), %32-%39 the A operand as register pairs
    // (A[2p] low, A[2p + 1] high), %40 the byte offset of the lane's first B value (row g, uint c of the tile) in the
    // kernel's dynamic shared memory, which ILGPU 1.5.3 declares as __dyn_shared_alloca (the CUDA tile test pins it).
    // B of n-tile j, k-step s: b0 at uint (8j) Stride + 8s, b1 four uints further, in bytes below.
    private const string TileProduct = """
        {
        .reg .u64 t, o;
        .reg .b32 a<16>, b<64>;
        mov.u64 t, __dyn_shared_alloca;
        cvt.u64.u32 o, %40;
        add.u64 t, t, o;
        mov.b64 {a0, a1}, %32;
        mov.b64 {a2, a3}, %33;
        mov.b64 {a4, a5}, %34;
        mov.b64 {a6, a7}, %35;
        mov.b64 {a8, a9}, %36;
        mov.b64 {a10, a11}, %37;
        mov.b64 {a12, a13}, %38;
        mov.b64 {a14, a15}, %39;
        ld.shared.b32 b0, [t+0];
        ld.shared.b32 b1, [t+16];
        ld.shared.b32 b2, [t+32];
        ld.shared.b32 b3, [t+48];
        ld.shared.b32 b4, [t+64];
        ld.shared.b32 b5, [t+80];
        ld.shared.b32 b6, [t+96];
        ld.shared.b32 b7, [t+112];
        ld.shared.b32 b8, [t+1152];
        ld.shared.b32 b9, [t+1168];
        ld.shared.b32 b10, [t+1184];
        ld.shared.b32 b11, [t+1200];
        ld.shared.b32 b12, [t+1216];
        ld.shared.b32 b13, [t+1232];
        ld.shared.b32 b14, [t+1248];
        ld.shared.b32 b15, [t+1264];
        ld.shared.b32 b16, [t+2304];
        ld.shared.b32 b17, [t+2320];
        ld.shared.b32 b18, [t+2336];
        ld.shared.b32 b19, [t+2352];
        ld.shared.b32 b20, [t+2368];
        ld.shared.b32 b21, [t+2384];
        ld.shared.b32 b22, [t+2400];
        ld.shared.b32 b23, [t+2416];
        ld.shared.b32 b24, [t+3456];
        ld.shared.b32 b25, [t+3472];
        ld.shared.b32 b26, [t+3488];
        ld.shared.b32 b27, [t+3504];
        ld.shared.b32 b28, [t+3520];
        ld.shared.b32 b29, [t+3536];
        ld.shared.b32 b30, [t+3552];
        ld.shared.b32 b31, [t+3568];
        ld.shared.b32 b32, [t+4608];
        ld.shared.b32 b33, [t+4624];
        ld.shared.b32 b34, [t+4640];
        ld.shared.b32 b35, [t+4656];
        ld.shared.b32 b36, [t+4672];
        ld.shared.b32 b37, [t+4688];
        ld.shared.b32 b38, [t+4704];
        ld.shared.b32 b39, [t+4720];
        ld.shared.b32 b40, [t+5760];
        ld.shared.b32 b41, [t+5776];
        ld.shared.b32 b42, [t+5792];
        ld.shared.b32 b43, [t+5808];
        ld.shared.b32 b44, [t+5824];
        ld.shared.b32 b45, [t+5840];
        ld.shared.b32 b46, [t+5856];
        ld.shared.b32 b47, [t+5872];
        ld.shared.b32 b48, [t+6912];
        ld.shared.b32 b49, [t+6928];
        ld.shared.b32 b50, [t+6944];
        ld.shared.b32 b51, [t+6960];
        ld.shared.b32 b52, [t+6976];
        ld.shared.b32 b53, [t+6992];
        ld.shared.b32 b54, [t+7008];
        ld.shared.b32 b55, [t+7024];
        ld.shared.b32 b56, [t+8064];
        ld.shared.b32 b57, [t+8080];
        ld.shared.b32 b58, [t+8096];
        ld.shared.b32 b59, [t+8112];
        ld.shared.b32 b60, [t+8128];
        ld.shared.b32 b61, [t+8144];
        ld.shared.b32 b62, [t+8160];
        ld.shared.b32 b63, [t+8176];
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {a0, a1, a2, a3}, {b0, b1}, {%0, %1, %2, %3};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {a4, a5, a6, a7}, {b2, b3}, {%0, %1, %2, %3};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {a8, a9, a10, a11}, {b4, b5}, {%0, %1, %2, %3};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {a12, a13, a14, a15}, {b6, b7}, {%0, %1, %2, %3};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%4, %5, %6, %7}, {a0, a1, a2, a3}, {b8, b9}, {%4, %5, %6, %7};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%4, %5, %6, %7}, {a4, a5, a6, a7}, {b10, b11}, {%4, %5, %6, %7};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%4, %5, %6, %7}, {a8, a9, a10, a11}, {b12, b13}, {%4, %5, %6, %7};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%4, %5, %6, %7}, {a12, a13, a14, a15}, {b14, b15}, {%4, %5, %6, %7};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%8, %9, %10, %11}, {a0, a1, a2, a3}, {b16, b17}, {%8, %9, %10, %11};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%8, %9, %10, %11}, {a4, a5, a6, a7}, {b18, b19}, {%8, %9, %10, %11};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%8, %9, %10, %11}, {a8, a9, a10, a11}, {b20, b21}, {%8, %9, %10, %11};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%8, %9, %10, %11}, {a12, a13, a14, a15}, {b22, b23}, {%8, %9, %10, %11};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%12, %13, %14, %15}, {a0, a1, a2, a3}, {b24, b25}, {%12, %13, %14, %15};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%12, %13, %14, %15}, {a4, a5, a6, a7}, {b26, b27}, {%12, %13, %14, %15};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%12, %13, %14, %15}, {a8, a9, a10, a11}, {b28, b29}, {%12, %13, %14, %15};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%12, %13, %14, %15}, {a12, a13, a14, a15}, {b30, b31}, {%12, %13, %14, %15};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%16, %17, %18, %19}, {a0, a1, a2, a3}, {b32, b33}, {%16, %17, %18, %19};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%16, %17, %18, %19}, {a4, a5, a6, a7}, {b34, b35}, {%16, %17, %18, %19};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%16, %17, %18, %19}, {a8, a9, a10, a11}, {b36, b37}, {%16, %17, %18, %19};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%16, %17, %18, %19}, {a12, a13, a14, a15}, {b38, b39}, {%16, %17, %18, %19};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%20, %21, %22, %23}, {a0, a1, a2, a3}, {b40, b41}, {%20, %21, %22, %23};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%20, %21, %22, %23}, {a4, a5, a6, a7}, {b42, b43}, {%20, %21, %22, %23};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%20, %21, %22, %23}, {a8, a9, a10, a11}, {b44, b45}, {%20, %21, %22, %23};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%20, %21, %22, %23}, {a12, a13, a14, a15}, {b46, b47}, {%20, %21, %22, %23};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%24, %25, %26, %27}, {a0, a1, a2, a3}, {b48, b49}, {%24, %25, %26, %27};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%24, %25, %26, %27}, {a4, a5, a6, a7}, {b50, b51}, {%24, %25, %26, %27};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%24, %25, %26, %27}, {a8, a9, a10, a11}, {b52, b53}, {%24, %25, %26, %27};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%24, %25, %26, %27}, {a12, a13, a14, a15}, {b54, b55}, {%24, %25, %26, %27};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%28, %29, %30, %31}, {a0, a1, a2, a3}, {b56, b57}, {%28, %29, %30, %31};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%28, %29, %30, %31}, {a4, a5, a6, a7}, {b58, b59}, {%28, %29, %30, %31};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%28, %29, %30, %31}, {a8, a9, a10, a11}, {b60, b61}, {%28, %29, %30, %31};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%28, %29, %30, %31}, {a12, a13, a14, a15}, {b62, b63}, {%28, %29, %30, %31};
        }
        """;


    private static ulong Registers(uint low, uint high) => low | ((ulong)high << 32);


    // Eight cvt.rn.bf16x2.f32 in one asm block (24 operands instead of 8 blocks of 3).
    private static void PackHalf(Fragment f0, Fragment f1, Fragment f2, Fragment f3, out uint r0, out uint r1, out uint r2,
                                 out uint r3, out uint r4, out uint r5, out uint r6, out uint r7)
    {
        Output<uint> o0 = default, o1 = default, o2 = default, o3 = default, o4 = default, o5 = default, o6 = default, o7 = default;
        Input<float> x0 = f0.C0, x1 = f0.C1, x2 = f0.C2, x3 = f0.C3, x4 = f1.C0, x5 = f1.C1, x6 = f1.C2, x7 = f1.C3;
        Input<float> x8 = f2.C0, x9 = f2.C1, x10 = f2.C2, x11 = f2.C3, x12 = f3.C0, x13 = f3.C1, x14 = f3.C2, x15 = f3.C3;
        CudaAsm.EmitRef(PackEight, ref o0, ref o1, ref o2, ref o3, ref o4, ref o5, ref o6, ref o7, ref x0, ref x1, ref x2, ref x3,
                        ref x4, ref x5, ref x6, ref x7, ref x8, ref x9, ref x10, ref x11, ref x12, ref x13, ref x14, ref x15);
        r0 = o0.Value; r1 = o1.Value; r2 = o2.Value; r3 = o3.Value; r4 = o4.Value; r5 = o5.Value; r6 = o6.Value; r7 = o7.Value;
    }

    // Output i = bf16 pair (low: input 2i, high: input 2i + 1); cvt puts its first source in the upper half.
    private const string PackEight = """
        {
        cvt.rn.bf16x2.f32 %0, %9, %8;
        cvt.rn.bf16x2.f32 %1, %11, %10;
        cvt.rn.bf16x2.f32 %2, %13, %12;
        cvt.rn.bf16x2.f32 %3, %15, %14;
        cvt.rn.bf16x2.f32 %4, %17, %16;
        cvt.rn.bf16x2.f32 %5, %19, %18;
        cvt.rn.bf16x2.f32 %6, %21, %20;
        cvt.rn.bf16x2.f32 %7, %23, %22;
        }
        """;

}

/// <summary>ILGPU's CPU accelerator: the same products from the same A fragments (gathered across the warp with
/// shuffles, as the hardware does) and the same shared tile, so the CPU tests exercise every index of the layout.</summary>
internal readonly struct EmulatedTensorCores : ITensorCores
{
    // The lane gathers its rows g and g + 8 of A
    // from the four lanes that hold them (lane 4g + q has columns 16s + 2q, +1 in register 4s and 16s + 8 + 2q, +1 in
    // register 4s + 2; rows g + 8 in registers 4s + 1 and 4s + 3) and reads B from the shared tile directly.
    public readonly void Accumulate(ref Tile16x64 acc, Operand16x64 a, SharedTile shared, int lane)
    {
        ArrayView<uint> tile = shared.View;
        int g = lane >> 2, c = lane & 3;
        ArrayView<float> rows = LocalMemory.Allocate<float>(2 * Mma.Size);     // rows g and g + 8 of A
        for (int q = 0; q < 4; q++)
            for (int r = 0; r < 16; r++)
            {
                uint pair = Warp.Shuffle(Register(a, r), 4 * g + q);
                int step = r >> 2, kind = r & 3;
                int column = 16 * step + 2 * q + (kind >= 2 ? 8 : 0), row = (kind & 1) * Mma.Size;
                rows[row + column] = Bf16.Low(pair);
                rows[row + column + 1] = Bf16.High(pair);
            }
        for (int j = 0; j < 8; j++)
        {
            Fragment f = Get(acc, j);
            f.C0 += Dot(rows, 0, tile, (8 * j + 2 * c) * Mma.Stride);
            f.C1 += Dot(rows, 0, tile, (8 * j + 2 * c + 1) * Mma.Stride);
            f.C2 += Dot(rows, Mma.Size, tile, (8 * j + 2 * c) * Mma.Stride);
            f.C3 += Dot(rows, Mma.Size, tile, (8 * j + 2 * c + 1) * Mma.Stride);
            Set(ref acc, j, f);
        }
    }

    private static float Dot(ArrayView<float> rows, int row, ArrayView<uint> tile, int at)
    {
        float sum = 0f;
        for (int u = 0; u < Mma.Size / 2; u++)
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

    public readonly Operand16x64 Pack(Tile16x64 t) => new()
    {
        A0 = Bf16.PackInSoftware(t.N0.C0, t.N0.C1), A1 = Bf16.PackInSoftware(t.N0.C2, t.N0.C3), A2 = Bf16.PackInSoftware(t.N1.C0, t.N1.C1), A3 = Bf16.PackInSoftware(t.N1.C2, t.N1.C3),
        A4 = Bf16.PackInSoftware(t.N2.C0, t.N2.C1), A5 = Bf16.PackInSoftware(t.N2.C2, t.N2.C3), A6 = Bf16.PackInSoftware(t.N3.C0, t.N3.C1), A7 = Bf16.PackInSoftware(t.N3.C2, t.N3.C3),
        A8 = Bf16.PackInSoftware(t.N4.C0, t.N4.C1), A9 = Bf16.PackInSoftware(t.N4.C2, t.N4.C3), A10 = Bf16.PackInSoftware(t.N5.C0, t.N5.C1), A11 = Bf16.PackInSoftware(t.N5.C2, t.N5.C3),
        A12 = Bf16.PackInSoftware(t.N6.C0, t.N6.C1), A13 = Bf16.PackInSoftware(t.N6.C2, t.N6.C3), A14 = Bf16.PackInSoftware(t.N7.C0, t.N7.C1), A15 = Bf16.PackInSoftware(t.N7.C2, t.N7.C3),
    };

    public uint Pair(float low, float high) => Bf16.PackInSoftware(low, high);
}

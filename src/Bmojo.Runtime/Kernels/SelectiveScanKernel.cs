using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Kernels;

/// <summary>Everything one selective-scan launch reads and writes; absent optional inputs are empty views.</summary>
internal struct SelectiveScanArguments
{
    public ArrayView<float> U;             // (B, d_inner, L)
    public ArrayView<float> Delta;         // (B, d_inner, L)
    public ArrayView<float> A;             // (d_inner, N)
    public ArrayView<float> B;             // (B, N, L)
    public ArrayView<float> C;             // (B, N, L)
    public ArrayView<float> D;             // (d_inner) or empty
    public ArrayView<float> Z;             // (B, d_inner, L) or empty
    public ArrayView<float> DeltaBias;     // (d_inner) or empty
    public ArrayView<float> InitialState;  // (B, d_inner, N) or empty
    public ArrayView<float> Output;        // (B, d_inner, L)
    public ArrayView<float> FinalState;    // (B, d_inner, N)
    public int Batch;
    public int DInner;
    public int Length;
    public int DState;
    public int Lanes;                      // lanes per channel: a power of two >= N, at most 32
    public ScanOptions Options;

    public readonly bool Has(ScanOptions option) => (Options & option) != 0;
}

/// <summary>Which optional inputs a launch has (kernel parameters must be blittable: flags, not bools).</summary>
[Flags]
internal enum ScanOptions
{
    None = 0,
    D = 1,
    Z = 2,
    DeltaBias = 4,
    InitialState = 8,
    DeltaSoftplus = 16,
}

/// <summary>
/// The forward selective scan (mamba's <c>selective_scan_fwd</c> semantics). A block of <see cref="GroupSize"/>
/// threads serves consecutive channels <c>d</c> of one batch row <c>b</c>; each channel is a group of
/// <c>Lanes</c> warp lanes, lane <c>n</c> holding state <c>h[n]</c> in a register in fp32. Time runs in chunks of
/// <c>Lanes</c> steps. Per chunk the block stages <c>B[b, :, chunk]</c> and <c>C[b, :, chunk]</c> in shared memory
/// with coalesced reads (once for all its channels), and each channel loads its <c>u, delta</c> with one coalesced
/// read (lane <c>j</c> takes step <c>t0 + j</c> and computes that step's size once). Every step is then broadcast
/// with a shuffle, each lane updates its state, the group sums <c>h · C</c> with a butterfly of xor-shuffles, and lane
/// <c>j</c> keeps step <c>j</c>'s sum; the chunk's outputs (with the <c>D</c> skip and the <c>silu(z)</c> gate) leave
/// in one coalesced write.
/// </summary>
internal static class SelectiveScanKernel
{
    public const int GroupSize = 256;
    public const int MaxLanes = 32;
    private const int TileStride = MaxLanes + 1;            // odd row stride: lane n reads row n without bank conflicts

    public static int BlocksPerBatch(int dInner, int lanes) => (dInner + GroupSize / lanes - 1) / (GroupSize / lanes);

    public static void Forward(SelectiveScanArguments p)
    {
        ArrayView<float> tileB = SharedMemory.Allocate<float>(MaxLanes * TileStride);    // (N, chunk) of B[b]
        ArrayView<float> tileC = SharedMemory.Allocate<float>(MaxLanes * TileStride);    // (N, chunk) of C[b]
        int lanes = p.Lanes;
        int blocksPerBatch = BlocksPerBatch(p.DInner, lanes);
        int b = Grid.IdxX / blocksPerBatch;
        int localChannel = Group.IdxX / lanes;
        int lane = Group.IdxX - localChannel * lanes;       // the state index n this lane holds
        int groupBase = Warp.LaneIdx - lane;                // the warp lane of this channel's lane 0
        int dRaw = (Grid.IdxX - b * blocksPerBatch) * (GroupSize / lanes) + localChannel;
        bool active = dRaw < p.DInner;                      // padding channels still join every barrier and shuffle
        int d = active ? dRaw : 0;
        int c = b * p.DInner + d;
        bool ownsState = active && lane < p.DState;
        int n = ownsState ? lane : 0;

        float a = ownsState ? p.A[d * p.DState + n] : 0f;
        float h = ownsState && p.Has(ScanOptions.InitialState) ? p.InitialState[c * p.DState + n] : 0f;
        float skip = p.Has(ScanOptions.D) ? p.D[d] : 0f;
        float bias = p.Has(ScanOptions.DeltaBias) ? p.DeltaBias[d] : 0f;
        int row = c * p.Length;                             // (b, d, :) in u, delta, z, output
        int batchRows = b * p.DState * p.Length;            // (b, :, :) in B and C

        for (int t0 = 0; t0 < p.Length; t0 += lanes)
        {
            int steps = XMath.Min(lanes, p.Length - t0);
            Group.Barrier();                                // the last chunk's tiles are no longer read
            for (int i = Group.IdxX; i < p.DState * lanes; i += GroupSize)
            {
                int tileRow = i / lanes, step = i - tileRow * lanes;
                int at = batchRows + tileRow * p.Length + t0 + step;
                tileB[tileRow * TileStride + step] = step < steps ? p.B[at] : 0f;
                tileC[tileRow * TileStride + step] = step < steps ? p.C[at] : 0f;
            }
            Group.Barrier();

            int mine = t0 + lane;                           // the step this lane loads and writes
            bool inChunk = lane < steps;
            float u = inChunk ? p.U[row + mine] : 0f;
            float dt = inChunk ? p.Delta[row + mine] + bias : 0f;
            if (p.Has(ScanOptions.DeltaSoftplus)) dt = dt <= 20f ? XMath.Log(1f + XMath.Exp(dt)) : dt;
            float dtu = dt * u;
            float y = 0f;

            for (int k = 0; k < steps; k++)
            {
                float dtk = Warp.Shuffle(dt, groupBase + k);
                float dtuk = Warp.Shuffle(dtu, groupBase + k);
                float contribution = 0f;
                if (ownsState)
                {
                    h = XMath.Exp(dtk * a) * h + dtuk * tileB[n * TileStride + k];
                    contribution = h * tileC[n * TileStride + k];
                }
                for (int offset = lanes / 2; offset > 0; offset /= 2)
                    contribution += Warp.ShuffleXor(contribution, offset);
                if (lane == k) y = contribution;
            }

            if (active && inChunk)
            {
                y += skip * u;
                if (p.Has(ScanOptions.Z))
                {
                    float z = p.Z[row + mine];
                    y *= z / (1f + XMath.Exp(-z));
                }
                p.Output[row + mine] = y;
            }
        }

        if (ownsState) p.FinalState[c * p.DState + n] = h;
    }
}

using Bmojo.Runtime.Mixers;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Ops.SelectiveScan;

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
    public ArrayView<float> Checkpoints;   // (B, d_inner, chunks, N) or empty: the state before each chunk
    public ArrayView<float> SegmentStates; // register kernel, segmented: (B, segments, d_inner, N), each segment's local end state
    public ArrayView<float> SegmentSums;   // register kernel, segmented: (B, segments, d_inner), each segment's sum of dt
    public int SegmentSteps;               // register kernel: steps per segment along L (a multiple of 32, or L when one)
    public int Segments;                   // register kernel: segments along L (1: not segmented)
    // Register kernel with ScanOptions.Bf16: u, delta, z, B, C read from these raw bf16 views (same shapes) instead
    // of the fp32 ones above, and y written to Output16.
    public ArrayView<ushort> U16, Delta16, Z16, B16, C16, Output16;
    public int Batch;
    public int DInner;
    public int Length;
    public int DState;
    public int Lanes;                      // lane-per-state kernel: lanes per channel, a power of two >= N, at most 32
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
    Checkpoints = 32,   // forward: write the state before each chunk; backward: read them instead of a forward sweep
    SegmentLocal = 64,  // register kernels, pass 1 of a segmented scan: each segment's local state (or adjoint) and sum of dt
    Segmented = 128,    // register kernels, pass 2: each segment starts from the combination of pass 1's results
    Bf16 = 256,         // register kernels: bf16 views set, the Bf16Elements instance runs: the per-token inputs (and the output
                        // gradient) read as bf16, y (du, d delta, dz) written as bf16
}

/// <summary>
/// The forward selective scan (mamba's <c>selective_scan_fwd</c> semantics) with a lane per state, for
/// 16 &lt; d_state &lt;= 32 (smaller states run in registers: <see cref="RegisterScanKernel"/>). A block of <see cref="GroupSize"/>
/// threads serves consecutive channels <c>d</c> of one batch row <c>b</c>; each channel is a group of <c>Lanes</c>
/// threads, thread <c>n</c> holding state <c>h[n]</c> in a register in fp32. Time runs in chunks of <c>Lanes</c> steps.
/// Per chunk: the block stages <c>B[b, :, chunk]</c> and <c>C[b, :, chunk]</c> in shared memory with coalesced reads
/// (once for all its channels); each channel reads its <c>u, delta, z</c> with one coalesced read (thread <c>j</c>
/// takes step <c>t0 + j</c> and computes that step's size once) and shares them; then every thread runs the chunk's
/// steps on its state, writing <c>h · C</c> per step to shared memory, so the only dependency from step to step is one
/// multiply-add; last, thread <c>j</c> sums step <c>j</c>'s column over the states and writes <c>y</c> (with the
/// <c>D</c> skip and the <c>silu(z)</c> gate): one coalesced write per channel and chunk. The next chunk's global
/// reads are issued before the current chunk is computed, so their latency hides behind it.
/// </summary>
internal static class SelectiveScanKernel
{
    public const int GroupSize = 256;
    public const int MaxLanes = 32;

    public static int BlocksPerBatch(int dInner, int lanes) => (dInner + GroupSize / lanes - 1) / (GroupSize / lanes);

    /// <summary>Floats of dynamic shared memory per block: the B and C tiles (N, Lanes + 1), step sizes and inputs
    /// (GroupSize each), and h · C per channel (N, Lanes + 1). Rows are Lanes + 1 long (odd for power-of-two lanes),
    /// so threads reading one row each meet no bank conflicts.</summary>
    public static int SharedFloats(int dState, int lanes) => (2 + GroupSize / lanes) * dState * (lanes + 1) + 2 * GroupSize;

    public static void Forward(SelectiveScanArguments p)
    {
        int lanes = p.Lanes;
        int stride = lanes + 1;
        int tileSize = p.DState * stride;
        ArrayView<float> shared = SharedMemory.GetDynamic<float>();
        ArrayView<float> tileB = shared.SubView(0, tileSize);                              // (N, chunk) of B[b]
        ArrayView<float> tileC = shared.SubView(tileSize, tileSize);                       // (N, chunk) of C[b]
        ArrayView<float> stepSizes = shared.SubView(2 * tileSize, GroupSize);              // (channel, chunk): dt
        ArrayView<float> stepInputs = shared.SubView(2 * tileSize + GroupSize, GroupSize); // (channel, chunk): dt * u
        ArrayView<float> outputs = shared.SubView(2 * tileSize + 2 * GroupSize);           // (channel, N, chunk): h · C

        int blocksPerBatch = BlocksPerBatch(p.DInner, lanes);
        int b = Grid.IdxX / blocksPerBatch;
        int localChannel = Group.IdxX / lanes;
        int lane = Group.IdxX - localChannel * lanes;       // the state index n this thread holds
        int dRaw = (Grid.IdxX - b * blocksPerBatch) * (GroupSize / lanes) + localChannel;
        bool active = dRaw < p.DInner;                      // padding channels still reach every barrier
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
        int channelSteps = localChannel * lanes;            // this channel's slots in stepSizes, stepInputs
        int channelOutputs = localChannel * tileSize;       // this channel's (N, chunk) block of outputs
        int tileState = Group.IdxX / lanes, tileStep = Group.IdxX - tileState * lanes;   // this thread's tile entry
        bool inTile = Group.IdxX < p.DState * lanes;

        int chunkStates = c * ((p.Length + lanes - 1) / lanes) * p.DState;   // (b, d, :, :) in Checkpoints

        var next = ChunkReads.Load(p, 0, row + lane, lane, batchRows + tileState * p.Length + tileStep, tileStep, inTile);
        for (int t0 = 0; t0 < p.Length; t0 += lanes)
        {
            ChunkReads current = next;
            if (ownsState && p.Has(ScanOptions.Checkpoints)) p.Checkpoints[chunkStates + t0 / lanes * p.DState + n] = h;
            int steps = XMath.Min(lanes, p.Length - t0);
            next = ChunkReads.Load(p, t0 + lanes, row + t0 + lanes + lane, lane,
                                   batchRows + tileState * p.Length + t0 + lanes + tileStep, tileStep, inTile);
            bool inChunk = lane < steps;
            float dt = current.Delta + bias;
            if (p.Has(ScanOptions.DeltaSoftplus)) dt = dt <= 20f ? XMath.Log(1f + XMath.Exp(dt)) : dt;

            Group.Barrier();                                // the last chunk's shared values are all read
            stepSizes[Group.IdxX] = dt;
            stepInputs[Group.IdxX] = dt * current.U;
            if (inTile)
            {
                tileB[tileState * stride + tileStep] = current.B;
                tileC[tileState * stride + tileStep] = current.C;
            }
            for (int i = Group.IdxX + GroupSize; i < p.DState * lanes; i += GroupSize)   // N * Lanes > GroupSize
            {
                int state = i / lanes, step = i - state * lanes;
                bool valid = t0 + step < p.Length;
                int at = batchRows + state * p.Length + t0 + step;
                tileB[state * stride + step] = valid ? p.B[at] : 0f;
                tileC[state * stride + step] = valid ? p.C[at] : 0f;
            }
            Group.Barrier();

            if (ownsState)
            {
                for (int k = 0; k < steps; k++)
                {
                    h = XMath.Exp(stepSizes[channelSteps + k] * a) * h + stepInputs[channelSteps + k] * tileB[n * stride + k];
                    outputs[channelOutputs + n * stride + k] = h * tileC[n * stride + k];
                }
            }
            Group.Barrier();

            if (active && inChunk)
            {
                float y = skip * current.U;
                for (int state = 0; state < p.DState; state++)
                    y += outputs[channelOutputs + state * stride + lane];
                if (p.Has(ScanOptions.Z)) y *= current.Z / (1f + XMath.Exp(-current.Z));
                p.Output[row + t0 + lane] = y;
            }
        }

        if (ownsState) p.FinalState[c * p.DState + n] = h;
    }

    /// <summary>One thread's global reads for one chunk: its step's <c>u, delta, z</c> and its entry of the B and C
    /// tiles (zero past the sequence's end).</summary>
    private struct ChunkReads
    {
        public float U, Delta, Z, B, C;

        public static ChunkReads Load(SelectiveScanArguments p, int t0, int at, int lane, int tileAt, int tileStep, bool inTile)
        {
            bool valid = t0 + lane < p.Length;
            bool tileValid = inTile && t0 + tileStep < p.Length;
            return new ChunkReads
            {
                U = valid ? p.U[at] : 0f,
                Delta = valid ? p.Delta[at] : 0f,
                Z = valid && p.Has(ScanOptions.Z) ? p.Z[at] : 0f,
                B = tileValid ? p.B[tileAt] : 0f,
                C = tileValid ? p.C[tileAt] : 0f,
            };
        }
    }
}

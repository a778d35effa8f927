using Bmojo.Runtime.Mixers;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>Everything one backward launch reads and writes; absent optional inputs are empty views.</summary>
internal struct SelectiveScanGradientArguments
{
    public ArrayView<float> U;             // (B, d_inner, L)
    public ArrayView<float> Delta;         // (B, d_inner, L)
    public ArrayView<float> A;             // (d_inner, N)
    public ArrayView<float> B;             // (B, N, L)
    public ArrayView<float> C;             // (B, N, L)
    public ArrayView<float> D;             // (d_inner) or empty
    public ArrayView<float> Z;             // (B, d_inner, L) or empty
    public ArrayView<float> DeltaBias;     // (d_inner) or empty
    public ArrayView<float> GradOutput;    // (B, d_inner, L)
    public ArrayView<float> Checkpoints;   // (B, d_inner, chunks, N): the state before each chunk (given or scratch)
    public ArrayView<float> GradU;         // (B, d_inner, L)
    public ArrayView<float> GradDelta;     // (B, d_inner, L)
    public ArrayView<float> GradZ;         // (B, d_inner, L) or empty
    public ArrayView<float> GradA;         // (B, d_inner, N): summed over B afterwards
    public ArrayView<float> GradBBlocks;   // (B, blocks per batch row, N, L): summed over blocks afterwards
    public ArrayView<float> GradCBlocks;   // (B, blocks per batch row, N, L)
    public ArrayView<float> GradD;         // (B, d_inner): summed over B afterwards
    public ArrayView<float> GradDeltaBias; // (B, d_inner)
    public int Batch;
    public int DInner;
    public int Length;
    public int DState;
    public int Lanes;                      // threads per channel: a power of two >= N, at most 32
    public int Threads;                    // threads per block
    public ScanOptions Options;

    public readonly bool Has(ScanOptions option) => (Options & option) != 0;
}

/// <summary>
/// The backward selective scan for 16 &lt; d_state &lt;= 32 (smaller states: <see cref="RegisterScanBackwardKernel"/>),
/// laid out as <see cref="SelectiveScanKernel"/> (a block of channels of one batch row,
/// thread <c>n</c> of a channel holding state <c>n</c>, chunks of <c>Lanes</c> steps). It needs the state before every
/// chunk: the forward kernel's checkpoints when given, else a first sweep runs the scan forward and stores them. The second sweep walks the chunks backwards: it recomputes the
/// chunk's states into shared memory from the stored one, then runs the steps backwards carrying the adjoint
/// <c>λ_t = gy_t C_t + exp(dt_{t+1} A) λ_{t+1}</c> in a register. Sums over states (the gradients of <c>dt</c> and
/// <c>u</c>) are column sums in shared memory; sums over channels (<c>dB, dC</c>) are shared-memory atomics per block,
/// written as one partial per block; sums over the batch (<c>dA, dD, d delta_bias</c>) are written per batch row.
/// The caller adds the partials up.
/// </summary>
internal static class SelectiveScanBackwardKernel
{
    public static int Threads(int lanes) => lanes > 16 ? 64 : 128;

    public static int BlocksPerBatch(int dInner, int lanes) => (dInner + Threads(lanes) / lanes - 1) / (Threads(lanes) / lanes);

    public static int Chunks(int length, int lanes) => (length + lanes - 1) / lanes;

    /// <summary>Floats of dynamic shared memory: four (N, Lanes + 1) tiles (B, C, dB, dC), three per-thread slots
    /// (dt, dt·u, gy) and two (N, Lanes + 1) blocks per channel (the states, then the dt sums; the u sums).</summary>
    public static int SharedFloats(int dState, int lanes)
    {
        int tile = dState * (lanes + 1), threads = Threads(lanes);
        return 4 * tile + 3 * threads + 2 * (threads / lanes) * tile;
    }

    public static void Backward(SelectiveScanGradientArguments p)
    {
        int lanes = p.Lanes, threads = p.Threads, stride = lanes + 1, tile = p.DState * stride;
        int channels = threads / lanes;
        ArrayView<float> shared = SharedMemory.GetDynamic<float>();
        ArrayView<float> tileB = shared.SubView(0, tile);                             // (N, chunk) of B[b]
        ArrayView<float> tileC = shared.SubView(tile, tile);                          // (N, chunk) of C[b]
        ArrayView<float> tileGradB = shared.SubView(2 * tile, tile);                  // (N, chunk): dB summed over channels
        ArrayView<float> tileGradC = shared.SubView(3 * tile, tile);                  // (N, chunk): dC summed over channels
        ArrayView<float> stepSizes = shared.SubView(4 * tile, threads);               // (channel, chunk): dt
        ArrayView<float> stepInputs = shared.SubView(4 * tile + threads, threads);    // (channel, chunk): dt * u
        ArrayView<float> stepGrads = shared.SubView(4 * tile + 2 * threads, threads); // (channel, chunk): gy
        ArrayView<float> states = shared.SubView(4 * tile + 3 * threads, channels * tile);           // (channel, N, chunk)
        ArrayView<float> inputSums = shared.SubView(4 * tile + 3 * threads + channels * tile, channels * tile);

        int blocksPerBatch = BlocksPerBatch(p.DInner, lanes);
        int block = Grid.IdxX - (Grid.IdxX / blocksPerBatch) * blocksPerBatch;
        int b = Grid.IdxX / blocksPerBatch;
        int localChannel = Group.IdxX / lanes;
        int lane = Group.IdxX - localChannel * lanes;
        int dRaw = block * channels + localChannel;
        bool active = dRaw < p.DInner;
        int d = active ? dRaw : 0;
        int c = b * p.DInner + d;
        bool ownsState = active && lane < p.DState;
        int n = ownsState ? lane : 0;
        int chunks = Chunks(p.Length, lanes);

        float a = ownsState ? p.A[d * p.DState + n] : 0f;
        float skip = p.Has(ScanOptions.D) ? p.D[d] : 0f;
        float bias = p.Has(ScanOptions.DeltaBias) ? p.DeltaBias[d] : 0f;
        int row = c * p.Length;
        int batchRows = b * p.DState * p.Length;
        int channelSteps = localChannel * lanes;
        int channelTile = localChannel * tile;
        int checkpoints = c * chunks * p.DState;

        // Forward sweep: the state before every chunk, unless the forward kernel left them.
        float h = 0f;
        for (int chunk = 0; chunk < chunks && !p.Has(ScanOptions.Checkpoints); chunk++)
        {
            int t0 = chunk * lanes, steps = XMath.Min(lanes, p.Length - t0);
            if (ownsState) p.Checkpoints[checkpoints + chunk * p.DState + n] = h;
            StageChunk(p, t0, row, batchRows, bias, lane, stride, tileB, tileC, stepSizes, stepInputs);
            if (ownsState)
                for (int k = 0; k < steps; k++)
                    h = XMath.Exp(stepSizes[channelSteps + k] * a) * h + stepInputs[channelSteps + k] * tileB[n * stride + k];
        }

        // Backward sweep.
        float carry = 0f, gradA = 0f, gradD = 0f, gradBias = 0f;
        for (int chunk = chunks - 1; chunk >= 0; chunk--)
        {
            int t0 = chunk * lanes, steps = XMath.Min(lanes, p.Length - t0);
            int mine = t0 + lane;
            bool inChunk = active && lane < steps;
            StageChunk(p, t0, row, batchRows, bias, lane, stride, tileB, tileC, stepSizes, stepInputs);
            for (int i = Group.IdxX; i < tile; i += threads)
            {
                tileGradB[i] = 0f;
                tileGradC[i] = 0f;
            }

            float start = ownsState ? p.Checkpoints[checkpoints + chunk * p.DState + n] : 0f;
            if (ownsState)
            {
                float hk = start;
                for (int k = 0; k < steps; k++)
                {
                    hk = XMath.Exp(stepSizes[channelSteps + k] * a) * hk + stepInputs[channelSteps + k] * tileB[n * stride + k];
                    states[channelTile + n * stride + k] = hk;
                }
            }
            Group.Barrier();

            // Thread j: y and the output's gradient at step t0 + j (through the D skip and the silu(z) gate).
            float u = inChunk ? p.U[row + mine] : 0f;
            float gradOut = inChunk ? p.GradOutput[row + mine] : 0f;
            float gy = gradOut;
            if (p.Has(ScanOptions.Z) && inChunk)
            {
                float y = skip * u;
                for (int state = 0; state < p.DState; state++)
                    y += tileC[state * stride + lane] * states[channelTile + state * stride + lane];
                float z = p.Z[row + mine];
                float sigmoid = 1f / (1f + XMath.Exp(-z));
                gy = gradOut * z * sigmoid;
                p.GradZ[row + mine] = gradOut * y * sigmoid * (1f + z * (1f - sigmoid));
            }
            stepGrads[Group.IdxX] = gy;
            Group.Barrier();

            if (ownsState)
            {
                for (int k = steps - 1; k >= 0; k--)
                {
                    float dt = stepSizes[channelSteps + k];
                    float decay = XMath.Exp(dt * a);
                    float gyk = stepGrads[channelSteps + k];
                    float hk = states[channelTile + n * stride + k];
                    float previous = k > 0 ? states[channelTile + n * stride + k - 1] : start;
                    float adjoint = gyk * tileC[n * stride + k] + carry;
                    Atomic.Add(ref tileGradC[n * stride + k], gyk * hk);
                    Atomic.Add(ref tileGradB[n * stride + k], adjoint * stepInputs[channelSteps + k]);
                    inputSums[channelTile + n * stride + k] = adjoint * tileB[n * stride + k];
                    float gradDecay = adjoint * previous * decay;                  // d/d(dt A) of exp(dt A)
                    states[channelTile + n * stride + k] = gradDecay * a;          // h_k is read for the last time above
                    gradA += gradDecay * dt;
                    carry = decay * adjoint;
                }
            }
            Group.Barrier();

            if (inChunk)
            {
                float stepSum = 0f, inputSum = 0f;
                for (int state = 0; state < p.DState; state++)
                {
                    stepSum += states[channelTile + state * stride + lane];
                    inputSum += inputSums[channelTile + state * stride + lane];
                }
                float dt = stepSizes[Group.IdxX];
                float gradDt = stepSum + inputSum * u;
                p.GradU[row + mine] = inputSum * dt + gy * skip;
                if (p.Has(ScanOptions.DeltaSoftplus))
                {
                    float raw = p.Delta[row + mine] + bias;
                    gradDt = raw <= 20f ? gradDt / (1f + XMath.Exp(-raw)) : gradDt;
                }
                p.GradDelta[row + mine] = gradDt;
                gradD += gy * u;
                gradBias += gradDt;
            }

            int partial = (b * blocksPerBatch + block) * p.DState * p.Length;
            for (int i = Group.IdxX; i < p.DState * lanes; i += threads)
            {
                int state = i / lanes, step = i - state * lanes;
                if (step < steps)
                {
                    p.GradBBlocks[partial + state * p.Length + t0 + step] = tileGradB[state * stride + step];
                    p.GradCBlocks[partial + state * p.Length + t0 + step] = tileGradC[state * stride + step];
                }
            }
        }

        if (ownsState) p.GradA[c * p.DState + n] = gradA;
        // The per-channel sums over this thread's steps, then over the channel's threads.
        if (active)
        {
            stepSizes[Group.IdxX] = gradD;
            stepInputs[Group.IdxX] = gradBias;
        }
        Group.Barrier();
        if (active && lane == 0)
        {
            float sumD = 0f, sumBias = 0f;
            for (int j = 0; j < lanes; j++)
            {
                sumD += stepSizes[channelSteps + j];
                sumBias += stepInputs[channelSteps + j];
            }
            p.GradD[c] = sumD;
            p.GradDeltaBias[c] = sumBias;
        }
    }

    /// <summary>Stages a chunk: thread j's step size and <c>dt · u</c>, and the block's B and C tiles; ends with a
    /// barrier (and starts with one, so the last chunk's shared values are all read).</summary>
    private static void StageChunk(SelectiveScanGradientArguments p, int t0, int row, int batchRows, float bias, int lane,
                                   int stride, ArrayView<float> tileB, ArrayView<float> tileC,
                                   ArrayView<float> stepSizes, ArrayView<float> stepInputs)
    {
        bool valid = t0 + lane < p.Length;
        float u = valid ? p.U[row + t0 + lane] : 0f;
        float dt = valid ? p.Delta[row + t0 + lane] + bias : 0f;
        if (p.Has(ScanOptions.DeltaSoftplus)) dt = dt <= 20f ? XMath.Log(1f + XMath.Exp(dt)) : dt;
        Group.Barrier();
        stepSizes[Group.IdxX] = dt;
        stepInputs[Group.IdxX] = dt * u;
        for (int i = Group.IdxX; i < p.DState * p.Lanes; i += p.Threads)
        {
            int state = i / p.Lanes, step = i - state * p.Lanes;
            bool inRange = t0 + step < p.Length;
            int at = batchRows + state * p.Length + t0 + step;
            tileB[state * stride + step] = inRange ? p.B[at] : 0f;
            tileC[state * stride + step] = inRange ? p.C[at] : 0f;
        }
        Group.Barrier();
    }
}

using Bmojo.Runtime.Memory;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Ops.Innovation;

/// <summary>Everything one innovation launch reads and writes.</summary>
internal struct InnovationArguments
{
    public ArrayView<float> U;                 // (B, L, D): the layer inputs u_t
    public ArrayView<float> Prediction;        // (B, L, D): read at t - PredictionLag (zero before the row starts)
    public ArrayView<byte> Selected;           // (B, L): s_t as a torch bool, 0 or 1
    public ArrayView<int> EideticEdge;         // (B, L): S[t - w], 0 while t < w
    public ArrayView<int> EideticPositions;    // (B, L): position of the rank-r selected token; 0 from S[L - 1] on
    public ArrayView<int> EideticCount;        // (B): S[L - 1]
    public ArrayView<int> Scratch;             // (1 + B * TilesPerRow), zeroed: the ticket counter, one descriptor a tile
    public int Length;
    public int Model;                          // D
    public int Window;                         // w
    public int TileTokens;                     // tokens a block serves, at most MaxTileTokens
    public int TilesPerRow;
    public int PredictionLag;                  // 1: Prediction is y (P = identity, y_{-1} = 0); 0: it is P y_{t-1}
    public float Threshold;                    // tau, rounded to fp32 as torch's e.gt(tau) does
}

/// <summary>
/// The innovation test and the eidetic memory's bookkeeping (docs/bmojo-layer.md, step 4 and rule (c)) in
/// one pass: <c>e_t = ||norm(u_t) - norm(P y_{t-1})||^2 / D</c>, <c>s_t = e_t &gt; tau</c>, the inclusive prefix
/// sum <c>S</c> of s along each row, and from it the tables the fused attention reads: <c>edge[t] = S[t - w]</c>,
/// <c>positions[r]</c> (the position of the rank-r selected token) and the count <c>S[L - 1]</c>.
/// <para>
/// Tiles of <see cref="InnovationArguments.TileTokens"/> consecutive tokens of one row, one block each, so a short
/// batch still fills the GPU. A block takes a ticket from a global counter and serves tile <c>ticket</c> (row
/// <c>ticket / TilesPerRow</c>): tiles are served in the order blocks started, so a block only ever waits for blocks
/// that are already running. Each warp computes e_t of a token at a time (lane d sums dimensions d, d + 32, ... and
/// shuffles finish the sums): a first pass over D for the two RMS norms, a second for the squared differences, so
/// no cancellation-prone expansion moves e near tau. Warp 0 then scans the tile's flags and finds the prefix of the
/// tiles before it by a decoupled look-back (Merrill and Garland 2016, "Single-pass Parallel Prefix Scan with
/// Decoupled Look-back"): it publishes its tile's count at once, then walks back over the descriptors of the tiles
/// before it, 32 at a time, adding counts until it meets a tile that has published its inclusive prefix, and
/// publishes its own. Then it writes its tokens' <c>edge[t + w] = S[t]</c> (and <c>edge[t] = 0</c> for t &lt; w):
/// each tile pushes its own prefix sums forward, so no tile ever reads another tile's S. The last tile of a row writes
/// the count and zeroes the unused positions columns.
/// </para>
/// <para>
/// Memory ordering. Blocks communicate through the descriptor words only: one int each, written by
/// <c>Atomic.Exchange</c> and read by <c>Atomic.Add(ref word, 0)</c>, holding a status and the value it covers, so
/// every read sees a whole (status, value) pair written by its tile: per-location coherence of atomics is all the
/// scan needs, and no fence is. Everything else a block writes (s, edge, positions) goes to locations no other block
/// reads or writes, and kernel completion (<see cref="KernelHost.Launch"/> waits for it) makes it visible to torch.
/// A block waits only for tiles with smaller tickets, whose blocks started before it, publish their counts without
/// waiting and never wait for a larger ticket; by induction on the ticket every wait ends (on ILGPU's CPU
/// accelerator too: groups there run on OS threads, one multiprocessor's groups one after another). Inside a block,
/// <c>Group.Barrier</c> (in the ticket's broadcast and after the flags are staged in shared memory) orders shared
/// memory; the last tile's zeroing of positions needs no ordering against any write, since no tile writes a column at
/// or past its row's count.
/// </para>
/// </summary>
internal static class InnovationKernel
{
    public const int WarpSize = 32;
    public const int MaxTileTokens = WarpSize;   // warp 0 scans the tile's flags, one lane a token
    public const int MaxWarps = 8;
    public const float NormEps = (float)InnovationSelector.NormEps;   // as torch adds it to an fp32 mean

    // A tile's descriptor: 0 while nothing is published, then its count (Aggregate) and later its inclusive prefix.
    private const int AggregateFlag = 1 << 29;
    private const int InclusiveFlag = 1 << 30;
    private const int ValueMask = AggregateFlag - 1;

    /// <summary>The longest row a descriptor can count.</summary>
    public const int MaxLength = ValueMask;

    /// <summary>The descriptor of a tile that has published its count of selected tokens only.</summary>
    public static int Aggregate(int count) => AggregateFlag | count;

    /// <summary>The descriptor of a tile that has published its inclusive prefix: the selected tokens of the row up to
    /// and including the tile.</summary>
    public static int Inclusive(int prefix) => InclusiveFlag | prefix;

    public static int GroupSize(int tileTokens) => WarpSize * XMath.Min(tileTokens, MaxWarps);

    public static void Run(InnovationArguments p)
    {
        ArrayView<int> tileSelected = SharedMemory.Allocate<int>(MaxTileTokens);
        int ticket = Group.Broadcast(Group.IdxX == 0 ? Atomic.Add(ref p.Scratch[0], 1) : 0, 0);
        int row = ticket / p.TilesPerRow, tile = ticket - row * p.TilesPerRow;
        int t0 = tile * p.TileTokens, count = XMath.Min(p.TileTokens, p.Length - t0);
        int warp = Group.IdxX / WarpSize, lane = Group.IdxX - warp * WarpSize, warps = Group.DimX / WarpSize;
        int rowStart = row * p.Length;                       // (b, 0) in the (B, L) tables

        for (int i = warp; i < count; i += warps)
        {
            bool selected = Innovation(p, rowStart + t0 + i, t0 + i, lane) > p.Threshold;
            if (lane != 0) continue;
            tileSelected[i] = selected ? 1 : 0;
            p.Selected[rowStart + t0 + i] = selected ? (byte)1 : (byte)0;
        }
        Group.Barrier();

        int total = 0;                                       // S[L - 1] of the row, known to the last tile
        if (warp == 0)
        {
            int flag = lane < count ? tileSelected[lane] : 0;
            int inclusive = InclusiveSum(flag, lane);        // within the tile
            int tileCount = Warp.Shuffle(inclusive, WarpSize - 1);
            ref int descriptor = ref p.Scratch[1 + ticket];
            int before = 0;                                  // selected tokens of the row before this tile
            if (tile == 0)
            {
                if (lane == 0) Atomic.Exchange(ref descriptor, Inclusive(tileCount));
            }
            else
            {
                if (lane == 0) Atomic.Exchange(ref descriptor, Aggregate(tileCount));
                before = LookBack(p.Scratch, 1 + ticket, tile, lane);
                if (lane == 0) Atomic.Exchange(ref descriptor, Inclusive(before + tileCount));
            }

            if (lane < count)
            {
                int t = t0 + lane, prefix = before + inclusive;   // S[t]
                if (flag != 0) p.EideticPositions[rowStart + prefix - 1] = t;
                if (t < p.Window) p.EideticEdge[rowStart + t] = 0;
                if (t < p.Length - p.Window) p.EideticEdge[rowStart + t + p.Window] = prefix;
            }
            total = before + tileCount;
        }

        if (tile == p.TilesPerRow - 1)                       // the same in every thread of the block
        {
            if (Group.IdxX == 0) p.EideticCount[row] = total;
            total = Group.Broadcast(total, 0);
            for (int column = total + Group.IdxX; column < p.Length; column += Group.DimX)
                p.EideticPositions[rowStart + column] = 0;
        }
    }

    /// <summary>e_t of the token at <paramref name="token"/> (its (b, t) index) in position t of its row, in every lane
    /// of the warp.</summary>
    private static float Innovation(InnovationArguments p, int token, int t, int lane)
    {
        int d0 = token * p.Model, dims = p.Model;
        bool predicted = t >= p.PredictionLag;               // y_{-1} = 0: nothing to read at t = 0 with a lag
        int p0 = d0 - p.PredictionLag * dims;

        // Pass 1: sums of squares, four dimensions a lane in flight.
        float uu = 0f, pp = 0f;
        int d = lane;
        for (; d + 3 * WarpSize < dims; d += 4 * WarpSize)
        {
            float a0 = p.U[d0 + d], a1 = p.U[d0 + d + WarpSize], a2 = p.U[d0 + d + 2 * WarpSize], a3 = p.U[d0 + d + 3 * WarpSize];
            float b0 = 0f, b1 = 0f, b2 = 0f, b3 = 0f;
            if (predicted)
            {
                b0 = p.Prediction[p0 + d]; b1 = p.Prediction[p0 + d + WarpSize];
                b2 = p.Prediction[p0 + d + 2 * WarpSize]; b3 = p.Prediction[p0 + d + 3 * WarpSize];
            }
            uu += a0 * a0 + a1 * a1 + a2 * a2 + a3 * a3;
            pp += b0 * b0 + b1 * b1 + b2 * b2 + b3 * b3;
        }
        for (; d < dims; d += WarpSize)
        {
            float a = p.U[d0 + d], b = predicted ? p.Prediction[p0 + d] : 0f;
            uu += a * a;
            pp += b * b;
        }
        float ru = 1f / XMath.Sqrt(Sum(uu) / dims + NormEps), rp = 1f / XMath.Sqrt(Sum(pp) / dims + NormEps);

        // Pass 2: norm(u) - norm(p) = (u - p) ru + p (ru - rp): exactly 0 where u = p (then ru = rp), whether or not
        // the compiler fuses the multiply-adds.
        float dr = ru - rp, squares = 0f;
        d = lane;
        for (; d + 3 * WarpSize < dims; d += 4 * WarpSize)
        {
            float a0 = p.U[d0 + d], a1 = p.U[d0 + d + WarpSize], a2 = p.U[d0 + d + 2 * WarpSize], a3 = p.U[d0 + d + 3 * WarpSize];
            float b0 = 0f, b1 = 0f, b2 = 0f, b3 = 0f;
            if (predicted)
            {
                b0 = p.Prediction[p0 + d]; b1 = p.Prediction[p0 + d + WarpSize];
                b2 = p.Prediction[p0 + d + 2 * WarpSize]; b3 = p.Prediction[p0 + d + 3 * WarpSize];
            }
            float e0 = (a0 - b0) * ru + b0 * dr, e1 = (a1 - b1) * ru + b1 * dr;
            float e2 = (a2 - b2) * ru + b2 * dr, e3 = (a3 - b3) * ru + b3 * dr;
            squares += e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3;
        }
        for (; d < dims; d += WarpSize)
        {
            float a = p.U[d0 + d], b = predicted ? p.Prediction[p0 + d] : 0f;
            float e = (a - b) * ru + b * dr;
            squares += e * e;
        }
        return Sum(squares) / dims;
    }

    /// <summary>The selected tokens of the row's tiles before <paramref name="tile"/> (whose descriptor is
    /// <c>scratch[descriptor]</c>), in every lane of one warp: lane l reads the descriptor of tile <c>tile - 1 - l</c>
    /// (then 32 further back), until a tile with its inclusive prefix is met. Spins while a tile between this one and
    /// that tile has published nothing yet.</summary>
    internal static int LookBack(ArrayView<int> scratch, int descriptor, int tile, int lane)
    {
        int before = 0;
        for (int distance = 1; ; )
        {
            int back = distance + lane;                      // this lane's tile is tile - back
            int word = back <= tile ? Atomic.Add(ref scratch[descriptor - back], 0) : InclusiveFlag;   // before the row: 0
            int nearest = Min((word & InclusiveFlag) != 0 ? lane : WarpSize);   // the nearest inclusive prefix
            if (Max(lane < nearest && word == 0 ? 1 : 0) != 0) continue;       // a tile in between has not published
            before += Sum(lane <= nearest ? word & ValueMask : 0);
            if (nearest < WarpSize) return before;
            distance += WarpSize;
        }
    }

    private static int InclusiveSum(int value, int lane)
    {
        for (int delta = 1; delta < WarpSize; delta *= 2)
        {
            int other = Warp.ShuffleUp(value, delta);
            if (lane >= delta) value += other;
        }
        return value;
    }

    private static float Sum(float value)
    {
        for (int mask = WarpSize / 2; mask >= 1; mask /= 2) value += Warp.ShuffleXor(value, mask);
        return value;
    }

    private static int Sum(int value)
    {
        for (int mask = WarpSize / 2; mask >= 1; mask /= 2) value += Warp.ShuffleXor(value, mask);
        return value;
    }

    private static int Min(int value)
    {
        for (int mask = WarpSize / 2; mask >= 1; mask /= 2) value = XMath.Min(value, Warp.ShuffleXor(value, mask));
        return value;
    }

    private static int Max(int value)
    {
        for (int mask = WarpSize / 2; mask >= 1; mask /= 2) value = XMath.Max(value, Warp.ShuffleXor(value, mask));
        return value;
    }
}

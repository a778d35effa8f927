using System.Collections.Generic;
using Bmojo.Dsl.Language.Binding;
using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Plan;
using static Bmojo.Dsl.Language.Emit.Literals;

namespace Bmojo.Dsl.Language.Plan
{
    /// <summary>Long-term eidetic memory ("in storage"), read by top-k chunk retrieval.</summary>
    /// <param name="StorePath">null: the in-process store; else a persistent store at that path.</param>
    public sealed record RetrievalPlan(int TopK, int ChunkSize, string? StorePath);
}

namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary><c>retrieval</c>: only the value of a B'MOJO layer's <c>retrieval</c> key (Runtime <c>RetrievalOptions</c>).</summary>
    internal sealed class RetrievalKind : PartKind<RetrievalPlan>
    {
        private static readonly Key TopK = Key.Integer("top_k", 2, 1, 1024, "chunks fetched per head at each chunk boundary");
        private static readonly Key ChunkSize = Key.Integer("chunk_size", 64, 1, 65536, "tokens per chunk c (and positions between boundaries)");
        private static readonly Key Store = new Key("store", "string", "in-process", "", "path of a persistent store; absent = the in-process store");

        // After its keys: static fields initialise in the order they are written.
        public static readonly RetrievalKind Instance = new RetrievalKind();

        private RetrievalKind() { }

        public override string Name => "retrieval";

        public override IReadOnlyList<Key> Keys { get; } = new[] { TopK, ChunkSize, Store };

        public override RetrievalPlan Read(ArgumentReader r, ComponentBinder binder) =>
            new RetrievalPlan(r.Int(TopK), r.Int(ChunkSize), r.String(Store.Name));

        public static string Expression(RetrievalPlan r) =>
            $"new(TopK: {Int(r.TopK)}, ChunkSize: {Int(r.ChunkSize)}, StorePath: {String(r.StorePath)})";
    }
}

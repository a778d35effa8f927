using System;
using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Binding;
using Bmojo.Dsl.Language.Emit;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary>A component kind of the language (<c>attention</c>, <c>mlp</c> ...): a stateless singleton in
    /// <see cref="ComponentKindRegistry.All"/>. Plans never hold it; the registry finds it from a plan's type.</summary>
    internal abstract class ComponentKind
    {
        /// <summary>The name a spec writes (<c>bmojo_f</c>).</summary>
        public abstract string Name { get; }

        /// <summary>The kind's own key table, as docs/spec-language.md shows it under <c>### `name`</c>; empty when the
        /// doc describes the kind in prose (bmojo_f).</summary>
        public abstract IReadOnlyList<Key> Keys { get; }

        /// <summary>Every key the kind accepts (its table's and those it takes from other kinds); the unknown-key
        /// message suggests the closest of them.</summary>
        public virtual IReadOnlyList<string> KeyNames => Keys.Select(key => key.Name).ToArray();
    }

    /// <summary>A kind that fills a layer slot (a mixer or a feed-forward): the whole life of its plan, from the
    /// spec's arguments to the C# that builds its Bmojo.Runtime module.</summary>
    /// <typeparam name="TSlot"><see cref="MixerPlan"/> or <see cref="FeedForwardPlan"/>.</typeparam>
    internal abstract class SlotKind<TSlot> : ComponentKind where TSlot : class
    {
        /// <summary>The plan record the kind binds to; one kind per type answers for the plan (the first registered).</summary>
        public abstract Type PlanType { get; }

        /// <summary>The stem of the generated options field (<c>Attention</c> -> <c>AttentionOptions</c>).</summary>
        public abstract string FieldStem { get; }

        /// <summary>Reads the component's keys (every read key marked; the caller reports the unknown ones).</summary>
        public abstract TSlot Bind(ArgumentReader r, ComponentBinder binder);

        /// <summary>Trainable scalars of the module built from <paramref name="plan"/> at width <paramref name="d"/>.</summary>
        public abstract long Parameters(TSlot plan, long d);

        /// <summary>What it keeps per sequence at inference, in floats.</summary>
        public abstract MemoryPlan Memory(TSlot plan, long d);

        /// <summary>The short text of the generated class's layer table and comments: <c>mamba(d_state 16)</c>.</summary>
        public abstract string Describe(TSlot plan);

        /// <summary>The full text of <c>bmojo inspect</c>'s layer table: <c>mamba(d_state 16, d_conv 4, expand 2)</c>.</summary>
        public abstract string Detail(TSlot plan);

        /// <summary>The runtime options record, its initializer and the module built from it.</summary>
        public abstract OptionsCode Emit(TSlot plan, ModelPlan model);
    }

    /// <summary>A slot kind over its own plan record: the untyped members cast once, here.</summary>
    internal abstract class SlotKind<TSlot, TPlan> : SlotKind<TSlot> where TSlot : class where TPlan : TSlot
    {
        public sealed override Type PlanType => typeof(TPlan);

        public sealed override TSlot Bind(ArgumentReader r, ComponentBinder binder) => Read(r, binder);

        public sealed override long Parameters(TSlot plan, long d) => Parameters((TPlan)plan, d);

        public sealed override MemoryPlan Memory(TSlot plan, long d) => Memory((TPlan)plan, d);

        public sealed override string Describe(TSlot plan) => Describe((TPlan)plan);

        public sealed override string Detail(TSlot plan) => Detail((TPlan)plan);

        public sealed override OptionsCode Emit(TSlot plan, ModelPlan model) => Emit((TPlan)plan, model);

        public abstract TPlan Read(ArgumentReader r, ComponentBinder binder);

        public abstract long Parameters(TPlan plan, long d);

        /// <summary>Nothing, unless the kind keeps state across tokens.</summary>
        public virtual MemoryPlan Memory(TPlan plan, long d) => MemoryPlan.None;

        public abstract string Describe(TPlan plan);

        public abstract string Detail(TPlan plan);

        public abstract OptionsCode Emit(TPlan plan, ModelPlan model);
    }

    /// <summary>A kind that is only the value of another kind's key (<c>retrieval</c> of <c>bmojo</c>).</summary>
    internal abstract class PartKind<TPlan> : ComponentKind where TPlan : class
    {
        public abstract TPlan Read(ArgumentReader r, ComponentBinder binder);
    }
}

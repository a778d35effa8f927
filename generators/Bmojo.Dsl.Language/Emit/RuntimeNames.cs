namespace Bmojo.Dsl.Language.Emit
{
    /// <summary>The fully qualified names of the Bmojo.Runtime and TorchSharp types the generated code uses beyond
    /// the component kinds (each kind names its own options and module: Kinds/).</summary>
    internal static class RuntimeNames
    {
        public const string Device = "global::TorchSharp.torch.Device";

        public const string LanguageModel = "global::Bmojo.Runtime.LanguageModel";
        public const string KernelPolicy = "global::Bmojo.Runtime.KernelPolicy";
        public const string ModelEntry = "global::Bmojo.Runtime.ModelEntry";
        public const string ModelRegistry = "global::Bmojo.Runtime.ModelRegistry";
        public const string ModelSettings = "global::Bmojo.Runtime.ModelSettings";
        public const string LayerSettings = "global::Bmojo.Runtime.LayerSettings";

        public const string Block = "global::Bmojo.Runtime.Blocks.Block";
        public const string NormOptions = "global::Bmojo.Runtime.Blocks.NormOptions";
        public const string NormKind = "global::Bmojo.Runtime.Blocks.NormKind";
    }
}

namespace Bmojo.Dsl.Language.Emit
{
    /// <summary>The fully qualified names of the Bmojo.Runtime and TorchSharp types the generated code uses beyond
    /// the component kinds (each kind names its own options and module: Kinds/).</summary>
    internal static class RuntimeNames
    {
        public const string Tensor = "global::TorchSharp.torch.Tensor";
        public const string Device = "global::TorchSharp.torch.Device";
        public const string Module = "global::TorchSharp.torch.nn.Module<" + Tensor + ", " + Tensor + ">";
        public const string Linear = "global::TorchSharp.Modules.Linear";
        public const string Torch = "global::TorchSharp.torch";

        public const string Backbone = "global::Bmojo.Runtime.Backbone";
        public const string ModelCache = "global::Bmojo.Runtime.ModelCache";
        public const string ModelSettings = "global::Bmojo.Runtime.ModelSettings";
        public const string LayerSettings = "global::Bmojo.Runtime.LayerSettings";

        public const string Block = "global::Bmojo.Runtime.Blocks.Block";
        public const string NormOptions = "global::Bmojo.Runtime.Blocks.NormOptions";
        public const string NormKind = "global::Bmojo.Runtime.Blocks.NormKind";

        public const string MambaMixer = "global::Bmojo.Runtime.Mixers.MambaMixer";
        public const string BmojoPath = "global::Bmojo.Runtime.Mixers.BmojoPath";
        public const string ScanPath = "global::Bmojo.Runtime.Mixers.ScanPath";
    }
}

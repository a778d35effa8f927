namespace Bmojo.Dsl.Language.Emit
{
    /// <summary>The fully qualified names of the Bmojo.Runtime and TorchSharp types the generated code uses.</summary>
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
        public const string Mlp = "global::Bmojo.Runtime.Blocks.Mlp";
        public const string MixtureOfExperts = "global::Bmojo.Runtime.Blocks.MixtureOfExperts";
        public const string NormOptions = "global::Bmojo.Runtime.Blocks.NormOptions";
        public const string NormKind = "global::Bmojo.Runtime.Blocks.NormKind";
        public const string Activation = "global::Bmojo.Runtime.Blocks.Activation";
        public const string MlpOptions = "global::Bmojo.Runtime.Blocks.MlpOptions";
        public const string MoeOptions = "global::Bmojo.Runtime.Blocks.MoeOptions";

        public const string AttentionMixer = "global::Bmojo.Runtime.Mixers.AttentionMixer";
        public const string MambaMixer = "global::Bmojo.Runtime.Mixers.MambaMixer";
        public const string BmojoMixer = "global::Bmojo.Runtime.Mixers.BmojoMixer";
        public const string BmojoPath = "global::Bmojo.Runtime.Mixers.BmojoPath";
        public const string ScanPath = "global::Bmojo.Runtime.Mixers.ScanPath";
        public const string AttentionOptions = "global::Bmojo.Runtime.Mixers.AttentionOptions";
        public const string MambaOptions = "global::Bmojo.Runtime.Mixers.MambaOptions";
        public const string BmojoOptions = "global::Bmojo.Runtime.Mixers.BmojoOptions";
        public const string Predictor = "global::Bmojo.Runtime.Mixers.Predictor";
    }
}

namespace Bmojo.Dsl.Generator
{
    /// <summary>The names of the generator's incremental steps, for tests of caching.</summary>
    public static class TrackingNames
    {
        /// <summary>One spec file's text to its syntax tree and syntax diagnostics (per file).</summary>
        public const string Parse = nameof(Parse);

        /// <summary>The project's properties the generated code depends on: namespace, fused kernels.</summary>
        public const string Options = nameof(Options);

        /// <summary>All parsed files together to the resolved model plans and binding diagnostics.</summary>
        public const string Bind = nameof(Bind);

        /// <summary>The resolved plans, one value per model.</summary>
        public const string Models = nameof(Models);

        /// <summary>One model plan to its generated C# (per model).</summary>
        public const string Emit = nameof(Emit);
    }
}

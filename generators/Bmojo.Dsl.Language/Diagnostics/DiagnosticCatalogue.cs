using System.Collections.Generic;

namespace Bmojo.Dsl.Language.Diagnostics
{
    /// <summary>Every diagnostic the spec language reports. Ids are stable: never renumber, only add.
    /// Groups: 0001-0099 syntax, 0100-0199 keys and types, 0200-0299 values and ranges, 0300-0399 layer rules,
    /// 0400-0499 models and extends, 9999 internal error.</summary>
    public static class DiagnosticCatalogue
    {
        // Syntax
        public static readonly DiagnosticDescriptor UnexpectedCharacter = Error("BMJ0001", "Unexpected character",
            "unexpected character '{0}'");
        public static readonly DiagnosticDescriptor UnterminatedString = Error("BMJ0002", "Unterminated string",
            "unterminated string: a string must end with '\"' on the same line");
        public static readonly DiagnosticDescriptor InvalidNumber = Error("BMJ0003", "Invalid number",
            "invalid number '{0}'");
        public static readonly DiagnosticDescriptor ExpectedToken = Error("BMJ0004", "Expected token",
            "expected {0}, got {1}");
        public static readonly DiagnosticDescriptor ExpectedModel = Error("BMJ0005", "Expected a model",
            "expected 'model', got {0}; a spec file holds only 'model Name {{ ... }}' declarations");
        public static readonly DiagnosticDescriptor UnclosedBrace = Error("BMJ0006", "Unclosed brace",
            "'{{' of {0} is never closed: expected '}}'");
        public static readonly DiagnosticDescriptor ExpectedValue = Error("BMJ0007", "Expected a value",
            "expected a value after '=', got {0}");
        public static readonly DiagnosticDescriptor InvalidEscape = Error("BMJ0008", "Invalid escape",
            "invalid escape '\\{0}' in string: only \\\" and \\\\ are allowed");

        public static readonly DiagnosticDescriptor NestingTooDeep = Error("BMJ0009", "Nesting too deep",
            "components and lists nest deeper than {0} levels");
        public static readonly DiagnosticDescriptor TooManyErrors = Error("BMJ0010", "Too many errors",
            "and {0} more errors in {1}");

        // Keys and types
        public static readonly DiagnosticDescriptor UnknownModelKey = Error("BMJ0100", "Unknown model key",
            "unknown key '{0}' in model{1}");
        public static readonly DiagnosticDescriptor UnknownComponentKey = Error("BMJ0101", "Unknown component key",
            "unknown key '{0}' in {1}{2}");
        public static readonly DiagnosticDescriptor UnknownComponent = Error("BMJ0102", "Unknown component",
            "unknown component '{0}'{1}");
        public static readonly DiagnosticDescriptor DuplicateKey = Error("BMJ0103", "Duplicate key",
            "duplicate key '{0}' (first set on line {1})");
        public static readonly DiagnosticDescriptor WrongType = Error("BMJ0104", "Wrong value type",
            "'{0}' expects {1}, got '{2}'{3}");
        public static readonly DiagnosticDescriptor MissingKey = Error("BMJ0105", "Missing required key",
            "{0} needs '{1}' ({2})");
        public static readonly DiagnosticDescriptor WrongComponentKind = Error("BMJ0106", "Wrong component kind",
            "'{0}' expects {1}, got '{2}'");
        public static readonly DiagnosticDescriptor DuplicateLet = Error("BMJ0107", "Duplicate let",
            "'{0}' is already defined by a let on line {1}");
        public static readonly DiagnosticDescriptor SelectorOnPlainKey = Error("BMJ0108", "Layer rule on a plain key",
            "'{0}' is not a layer slot: only 'mixer' and 'mlp' take 'every', 'at' and 'pattern'");
        public static readonly DiagnosticDescriptor KeyNotApplicable = Error("BMJ0109", "Key does not apply",
            "'{0}' does not apply to {1}: {2}");
        public static readonly DiagnosticDescriptor LetCycle = Error("BMJ0110", "Cyclic let",
            "let '{0}' refers to itself: {1}");
        public static readonly DiagnosticDescriptor LetTooDeep = Error("BMJ0111", "Let chain too deep",
            "'{0}' is defined through more than {1} lets");

        // Values and ranges
        public static readonly DiagnosticDescriptor OutOfRange = Error("BMJ0200", "Value out of range",
            "{0} must be in {1}, got {2}");
        public static readonly DiagnosticDescriptor HeadsDivideModel = Error("BMJ0201", "Heads must divide d_model",
            "heads ({0}) must divide d_model ({1})");
        public static readonly DiagnosticDescriptor KvHeadsDivideHeads = Error("BMJ0202", "kv_heads must divide heads",
            "kv_heads ({0}) must divide heads ({1})");
        public static readonly DiagnosticDescriptor RotaryDim = Error("BMJ0203", "Invalid rotary_dim",
            "rotary_dim ({0}) must be even and at most the head size ({1})");
        public static readonly DiagnosticDescriptor TopKExceedsExperts = Error("BMJ0204", "top_k exceeds experts",
            "top_k ({0}) must be at most experts ({1})");
        public static readonly DiagnosticDescriptor DtRange = Error("BMJ0205", "dt_min not below dt_max",
            "dt_min ({0}) must be less than dt_max ({1})");
        public static readonly DiagnosticDescriptor EmptyAttention = Error("BMJ0206", "B'MOJO attends to nothing",
            "{0} needs window >= 1 or fading_tokens >= 1, so every query attends to at least one token");
        public static readonly DiagnosticDescriptor RotaryWithoutRope = Error("BMJ0207", "rotary_dim without RoPE",
            "rotary_dim is set but rope = false");
        public static readonly DiagnosticDescriptor MustDivide = Error("BMJ0208", "Value must divide",
            "{0} ({1}) must divide {2} ({3})");

        // Layer rules
        public static readonly DiagnosticDescriptor DuplicateFillRule = Error("BMJ0300", "Two fill rules",
            "'{0}' has two fill rules, on line {1} and line {2}: keep one and state exceptions with 'every' or 'at'");
        public static readonly DiagnosticDescriptor RulesCollide = Error("BMJ0301", "Layer rules collide",
            "{0} rules collide at layer {1}: '{2}' (line {3}) and '{4}' (line {5})");
        public static readonly DiagnosticDescriptor LayerWithoutMixer = Error("BMJ0302", "Layer without mixer",
            "{0} without a mixer: add a fill rule 'mixer = ...' or cover them with 'every' / 'at' rules");
        public static readonly DiagnosticDescriptor LayerOutOfRange = Error("BMJ0303", "Layer out of range",
            "layer {0} is out of range: the model has {1} layers (0..{2})");
        public static readonly DiagnosticDescriptor InvalidEvery = Error("BMJ0304", "Invalid every/offset",
            "'{0}' must be {1}, got {2}");
        public static readonly DiagnosticDescriptor DuplicateLayerInAt = Error("BMJ0305", "Layer listed twice",
            "layer {0} is listed twice in 'at'");
        public static readonly DiagnosticDescriptor RuleMatchesNothing = Warning("BMJ0306", "Rule matches no layer",
            "rule '{0}' matches no layer of the {1}");
        public static readonly DiagnosticDescriptor InvalidPattern = Error("BMJ0307", "Invalid pattern",
            "a pattern needs 1 to {1} entries (at most one per layer), got {0}");
        public static readonly DiagnosticDescriptor NoneMixer = Error("BMJ0308", "Mixer cannot be none",
            "every layer needs a mixer: 'mixer' cannot be none");

        // Models and extends
        public static readonly DiagnosticDescriptor UnknownParent = Error("BMJ0400", "Unknown model in extends",
            "model '{0}' extends unknown model '{1}'{2}");
        public static readonly DiagnosticDescriptor DuplicateModel = Error("BMJ0401", "Duplicate model",
            "model '{0}' is already declared at {1}");
        public static readonly DiagnosticDescriptor InvalidModelName = Error("BMJ0402", "Invalid model name",
            "model name {0} is not a valid C# identifier");
        public static readonly DiagnosticDescriptor KeywordModelName = Error("BMJ0403", "Model name is a keyword",
            "model name '{0}' is a C# keyword");
        public static readonly DiagnosticDescriptor ReservedModelName = Error("BMJ0404", "Reserved model name",
            "model name '{0}' is reserved: it would hide the root namespace 'Bmojo' in user code; try '{1}'");
        public static readonly DiagnosticDescriptor ExtendsCycle = Error("BMJ0405", "Cycle in extends",
            "extends cycle: {0}");
        public static readonly DiagnosticDescriptor LowercaseModelName = Warning("BMJ0406", "Lower-case model name",
            "model name '{0}' is all lower-case; C# warns on such type names (CS8981), use '{1}'");
        public static readonly DiagnosticDescriptor EmptySpec = Warning("BMJ0407", "No model",
            "the spec file declares no model");
        public static readonly DiagnosticDescriptor MemberNameClash = Error("BMJ0408", "Model name clashes with a generated member",
            "model name '{0}' is also the name of a member of the generated class or of LanguageModel, or of the registry class BmojoModels; choose another name");

        public static readonly DiagnosticDescriptor InternalError = Error("BMJ9999", "Internal error",
            "internal error in the spec compiler: {0}; please report it with this spec file");

        /// <summary>Every descriptor, in id order (the table of docs/spec-language.md).</summary>
        public static IReadOnlyList<DiagnosticDescriptor> All { get; } = new[]
        {
            UnexpectedCharacter, UnterminatedString, InvalidNumber, ExpectedToken, ExpectedModel, UnclosedBrace,
            ExpectedValue, InvalidEscape, NestingTooDeep, TooManyErrors,
            UnknownModelKey, UnknownComponentKey, UnknownComponent, DuplicateKey, WrongType, MissingKey,
            WrongComponentKind, DuplicateLet, SelectorOnPlainKey, KeyNotApplicable, LetCycle, LetTooDeep,
            OutOfRange, HeadsDivideModel, KvHeadsDivideHeads, RotaryDim, TopKExceedsExperts, DtRange, EmptyAttention,
            RotaryWithoutRope, MustDivide,
            DuplicateFillRule, RulesCollide, LayerWithoutMixer, LayerOutOfRange, InvalidEvery, DuplicateLayerInAt,
            RuleMatchesNothing, InvalidPattern, NoneMixer,
            UnknownParent, DuplicateModel, InvalidModelName, KeywordModelName, ReservedModelName, ExtendsCycle,
            LowercaseModelName, EmptySpec, MemberNameClash,
            InternalError,
        };

        private static DiagnosticDescriptor Error(string id, string title, string format) =>
            new DiagnosticDescriptor(id, Severity.Error, title, format);

        private static DiagnosticDescriptor Warning(string id, string title, string format) =>
            new DiagnosticDescriptor(id, Severity.Warning, title, format);
    }
}

using System.Collections.Generic;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>What a model name may be: it becomes a C# class name in the user's project.</summary>
    internal static class CSharpNames
    {
        private static readonly HashSet<string> Keywords = new HashSet<string>
        {
            "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const",
            "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit",
            "extern", "false", "finally", "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int",
            "interface", "internal", "is", "lock", "long", "namespace", "new", "null", "object", "operator", "out",
            "override", "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed",
            "short", "sizeof", "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try",
            "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
        };

        /// <summary>The root namespace of the runtime: a class of that name would hide it.</summary>
        public const string ReservedName = "Bmojo";

        public static bool IsKeyword(string name) => Keywords.Contains(name);

        /// <summary>Only the letters a-z: C# 11 warns on such type names (CS8981), they may become keywords.</summary>
        public static bool IsAllLowerCase(string name)
        {
            foreach (char c in name)
                if (c < 'a' || c > 'z') return false;
            return name.Length > 0;
        }

        public static string Capitalized(string name) =>
            name.Length == 0 ? name : char.ToUpperInvariant(name[0]) + name.Substring(1);
    }
}

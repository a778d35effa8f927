using System;
using System.Globalization;
using System.Text;

namespace Bmojo.Dsl.Language.Emit
{
    /// <summary>C# literals and XML doc text, culture-invariant, so the same plan gives the same bytes anywhere.</summary>
    internal static class Literals
    {
        public static string Bool(bool value) => value ? "true" : "false";

        public static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

        public static string NullableInt(int? value) => value is int v ? Int(v) : "null";

        /// <summary>A count with digit separators: 1_234_567.</summary>
        public static string Long(long value)
        {
            string digits = Math.Abs(value).ToString(CultureInfo.InvariantCulture);
            var grouped = new StringBuilder();
            for (int i = 0; i < digits.Length; i++)
            {
                if (i > 0 && (digits.Length - i) % 3 == 0) grouped.Append('_');
                grouped.Append(digits[i]);
            }
            return value < 0 ? "-" + grouped : grouped.ToString();
        }

        /// <summary>The shortest text that reads back as exactly <paramref name="value"/>, always a double literal
        /// (1.0, not 1); infinities and NaN by name.</summary>
        public static string Double(double value)
        {
            if (double.IsPositiveInfinity(value)) return "double.PositiveInfinity";
            if (double.IsNegativeInfinity(value)) return "double.NegativeInfinity";
            if (double.IsNaN(value)) return "double.NaN";
            string text = value.ToString("R", CultureInfo.InvariantCulture);
            return text.IndexOfAny(new[] { '.', 'E', 'e' }) >= 0 ? text : text + ".0";
        }

        /// <summary>A regular C# string literal, or <c>null</c>.</summary>
        public static string String(string? value)
        {
            if (value is null) return "null";
            var literal = new StringBuilder("\"");
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': literal.Append("\\\""); break;
                    case '\\': literal.Append("\\\\"); break;
                    case '\n': literal.Append("\\n"); break;
                    case '\r': literal.Append("\\r"); break;
                    case '\t': literal.Append("\\t"); break;
                    default:
                        if (char.IsControl(c)) literal.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else literal.Append(c);
                        break;
                }
            }
            return literal.Append('"').ToString();
        }

        /// <summary>Text made safe for an XML doc comment.</summary>
        public static string Xml(string text) =>
            text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
    }
}

using System.Collections.Generic;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Diagnostics
{
    /// <summary>Turns character offsets into zero-based line/character positions.</summary>
    internal static class LineMap
    {
        /// <summary>The offset of the first character of every line ('\n', '\r\n' and a lone '\r' end a line).</summary>
        public static EquatableArray<int> LineStarts(string text)
        {
            var starts = new List<int> { 0 };
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                if (text[i] == '\n' || text[i] == '\r') starts.Add(i + 1);
            }
            return starts.ToEquatableArray();
        }

        public static LinePosition Position(EquatableArray<int> lineStarts, int offset)
        {
            int lo = 0, hi = lineStarts.Count - 1;
            while (lo < hi)
            {
                int mid = (lo + hi + 1) / 2;
                if (lineStarts[mid] <= offset) lo = mid; else hi = mid - 1;
            }
            return new LinePosition(lo, offset - lineStarts[lo]);
        }
    }
}

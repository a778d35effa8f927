using System;
using System.Collections.Generic;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>"did you mean ...?" by edit distance.</summary>
    internal static class Suggestions
    {
        /// <summary>"; did you mean 'window'?" for the closest candidate within a small edit distance, else "".</summary>
        public static string DidYouMean(string name, IEnumerable<string> candidates)
        {
            string? best = null;
            int bestDistance = int.MaxValue;
            foreach (string candidate in candidates)
            {
                int distance = Distance(name.ToLowerInvariant(), candidate.ToLowerInvariant());
                if (distance < bestDistance)
                {
                    best = candidate;
                    bestDistance = distance;
                }
            }
            int allowed = Math.Max(1, Math.Min(3, name.Length / 3));
            return best != null && bestDistance <= allowed ? $"; did you mean '{best}'?" : string.Empty;
        }

        /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps.</summary>
        public static int Distance(string a, string b)
        {
            var d = new int[a.Length + 1, b.Length + 1];
            for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
            for (int j = 0; j <= b.Length; j++) d[0, j] = j;
            for (int i = 1; i <= a.Length; i++)
            {
                for (int j = 1; j <= b.Length; j++)
                {
                    int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                    d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                    if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                        d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
            return d[a.Length, b.Length];
        }
    }
}

using System.Text;
using System.Text.RegularExpressions;

namespace Bmojo.Runtime.Gpu;

/// <summary>
/// Turns the scalar local variables of an ILGPU-generated PTX kernel back into registers. ILGPU passes every operand
/// of inline PTX (<c>CudaAsm.EmitRef</c>) through a local variable of its own (<c>__local_depotN</c>, 4 or 8 bytes,
/// addressed by one register set once at entry); in the large tensor-core kernels ptxas leaves them in local memory
/// (hundreds of <c>LDL</c>/<c>STL</c> a tile, measured on the H200: docs/benchmarks.md). A local that is only ever
/// stored and loaded whole through its address register is exactly a per-thread variable, so each store becomes a
/// <c>mov</c> into a register of its own and each load a <c>mov</c> out of it: the same program, no memory. Locals used
/// any other way (an offset, a generic address, an array) are left as they are.
/// </summary>
internal static partial class PtxLocals
{
    /// <summary>The kernel with its promotable locals in registers; <paramref name="promoted"/> says how many.</summary>
    public static string Promote(string ptx, out int promoted)
    {
        var sizes = Declarations().Matches(ptx).ToDictionary(m => m.Groups["name"].Value, m => int.Parse(m.Groups["size"].Value));
        var registers = new Dictionary<string, string>();                      // address register -> depot
        foreach (Match m in AddressOf().Matches(ptx)) registers[m.Groups["reg"].Value] = m.Groups["name"].Value;

        // A depot qualifies when its address register appears only in its definition and in whole ld/st.local.
        var accesses = Accesses().Matches(ptx).GroupBy(m => m.Groups["reg"].Value).ToDictionary(g => g.Key, g => g.Count());
        var uses = Registers().Matches(ptx).GroupBy(m => m.Value).ToDictionary(g => g.Key, g => g.Count());
        var chosen = registers
            .Where(r => sizes.TryGetValue(r.Value, out int size) && size is 4 or 8
                        && uses.GetValueOrDefault(r.Key) == 1 + accesses.GetValueOrDefault(r.Key)
                        && registers.Count(other => other.Value == r.Value) == 1)
            .ToDictionary(r => r.Key, r => (Depot: r.Value, Register: $"{(sizes[r.Value] == 4 ? "%lp" : "%lq")}{r.Value["__local_depot".Length..]}"));
        promoted = chosen.Count;
        if (promoted == 0) return ptx;

        string result = Accesses().Replace(ptx, m =>
        {
            if (!chosen.TryGetValue(m.Groups["reg"].Value, out var local)) return m.Value;
            string type = m.Groups["type"].Value;
            return m.Groups["op"].Value == "st"
                ? $"{m.Groups["indent"].Value}mov.{type}\t{local.Register}, {m.Groups["value"].Value};"
                : $"{m.Groups["indent"].Value}mov.{type}\t{m.Groups["target"].Value}, {local.Register};";
        });
        var depots = chosen.Values.Select(v => v.Depot).ToHashSet();
        result = Declarations().Replace(result, m => depots.Contains(m.Groups["name"].Value) ? "" : m.Value);
        result = AddressOf().Replace(result, m => chosen.ContainsKey(m.Groups["reg"].Value) ? "" : m.Value);

        // Declare the new registers where the kernel declares its own.
        var declarations = new StringBuilder();
        foreach (var (_, register) in chosen.Values.OrderBy(v => v.Register, StringComparer.Ordinal))
            declarations.Append($"\t.reg .{(register.StartsWith("%lp", StringComparison.Ordinal) ? "b32" : "b64")}\t{register};\n");
        Match first = FirstRegisterDeclaration().Match(result);
        if (!first.Success) throw new InvalidOperationException("PTX promotion: the kernel declares no registers");
        return result.Insert(first.Index, declarations.ToString());
    }

    [GeneratedRegex(@"^[ \t]*\.local[ \t]+\.align[ \t]+\d+[ \t]+\.b8[ \t]+(?<name>__local_depot\d+)\[(?<size>\d+)\];[ \t]*\r?\n", RegexOptions.Multiline)]
    private static partial Regex Declarations();

    [GeneratedRegex(@"^[ \t]*mov\.b64[ \t]+(?<reg>%rd\d+),[ \t]*(?<name>__local_depot\d+);[ \t]*\r?\n", RegexOptions.Multiline)]
    private static partial Regex AddressOf();

    // st.local.T [%rdN], value;   ld.local.T target, [%rdN];
    [GeneratedRegex(@"(?<indent>^[ \t]*)(?:(?<op>st)\.local\.(?<type>[bufs](?:32|64))[ \t]+\[(?<reg>%rd\d+)\],[ \t]*(?<value>[^;]+);|(?<op>ld)\.local\.(?<type>[bufs](?:32|64))[ \t]+(?<target>%\w+),[ \t]*\[(?<reg>%rd\d+)\];)", RegexOptions.Multiline)]
    private static partial Regex Accesses();

    [GeneratedRegex(@"%rd\d+\b")]
    private static partial Regex Registers();

    [GeneratedRegex(@"^[ \t]*\.reg[ \t]", RegexOptions.Multiline)]
    private static partial Regex FirstRegisterDeclaration();
}

// MSBuild inline task (RoslynCodeTaskFactory): marks chosen libstdc++ version needs weak in ELF64 files,
// but only the versions this system's libstdc++ does not define. See Bmojo.TorchSharpNative.targets.
using System;
#nullable enable
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class BmojoWeakenElfVersionNeeds : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    private static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
    };

    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string Versions { get; set; } = "";

    public override bool Execute()
    {
        string? libstdcxx = LibStdCxxCandidates.FirstOrDefault(File.Exists);
        if (libstdcxx is null)
        {
            Log.LogMessage(MessageImportance.Low, "No system libstdc++ found; TorchSharp native library left as is.");
            return true;
        }

        byte[] system = File.ReadAllBytes(libstdcxx);
        var missing = Versions.Split(new[] { ';', ',' }, StringSplitOptions.RemoveEmptyEntries)
            .Select(v => v.Trim())
            .Where(v => IndexOf(system, Encoding.ASCII.GetBytes(v + "\0")) < 0)
            .ToArray();
        if (missing.Length == 0) return true; // a new enough libstdc++: nothing to do

        foreach (ITaskItem item in Files)
        {
            string path = item.ItemSpec;
            try
            {
                byte[] elf = File.ReadAllBytes(path);
                int changed = Weaken(elf, missing);
                if (changed == 0) continue;
                // Write a new file, unlink the old one, rename: a hard-linked original is never modified.
                string temp = path + ".bmojo-tmp";
                File.WriteAllBytes(temp, elf);
                File.Delete(path);
                File.Move(temp, path);
                Log.LogMessage(MessageImportance.Normal,
                    $"Marked {string.Join(", ", missing)} weak in {path} (system libstdc++ at {libstdcxx} lacks it).");
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is InvalidDataException)
            {
                Log.LogWarning($"Could not patch {path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>Sets VER_FLG_WEAK on every version need named in <paramref name="names"/>; returns how many changed.</summary>
    private static int Weaken(byte[] elf, string[] names)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a little-endian ELF64 file");

        long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        int changed = 0;
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(elf, (int)sh + 0x28);
            int count = (int)BitConverter.ToUInt32(elf, (int)sh + 0x2C);
            long strtab = (long)BitConverter.ToUInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);

            long need = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string name = ReadString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8));
                    int flagsAt = (int)aux + 4;
                    ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                    if (Array.IndexOf(names, name) >= 0 && (flags & VerFlagWeak) == 0)
                    {
                        flags |= VerFlagWeak;
                        elf[flagsAt] = (byte)(flags & 0xff);
                        elf[flagsAt + 1] = (byte)(flags >> 8);
                        changed++;
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                need += BitConverter.ToUInt32(elf, (int)need + 12);
            }
        }
        return changed;
    }

    private static string ReadString(byte[] bytes, long at)
    {
        int end = (int)at;
        while (end < bytes.Length && bytes[end] != 0) end++;
        return Encoding.ASCII.GetString(bytes, (int)at, end - (int)at);
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i <= haystack.Length - needle.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }
}

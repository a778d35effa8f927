using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Training;

/// <summary>The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header
/// (<c>__metadata__</c> string map, then per tensor dtype, shape and byte range), then the raw little-endian bytes.
/// PyTorch reads these files with <c>safetensors.torch.load_file</c>.</summary>
public static class SafeTensors
{
    private const ulong MaxHeaderBytes = 100_000_000;

    private static readonly Dictionary<ScalarType, string> DTypes = new()
    {
        [ScalarType.Float32] = "F32", [ScalarType.Float64] = "F64", [ScalarType.Float16] = "F16",
        [ScalarType.BFloat16] = "BF16", [ScalarType.Int64] = "I64", [ScalarType.Int32] = "I32",
        [ScalarType.Byte] = "U8", [ScalarType.Bool] = "BOOL",
    };

    private static readonly Dictionary<string, ScalarType> ScalarTypes = DTypes.ToDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>Writes <paramref name="tensors"/> (sorted by name) and <paramref name="metadata"/> to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject(metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))) };
        var ordered = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, Tensor: kv.Value.detach().cpu().contiguous())).ToList();
        long offset = 0;
        foreach ((string name, Tensor t) in ordered)
        {
            if (!DTypes.TryGetValue(t.dtype, out string? dtype)) throw new NotSupportedException($"tensor '{name}' has dtype {t.dtype}, which safetensors output does not support here");
            long size = t.NumberOfElements * t.ElementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(t.shape.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padded = (json.Length + 7) / 8 * 8;   // the data section starts 8-byte aligned
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        stream.Write(length);
        stream.Write(json);
        for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach ((_, Tensor t) in ordered)
        {
            if (t.NumberOfElements > 0) stream.Write(t.bytes);
            t.Dispose();
        }
    }

    /// <summary>Reads a whole safetensors file. Throws <see cref="InvalidDataException"/> on any malformed content.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        if (file.Length < 8) throw new InvalidDataException("too short to be a safetensors file");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > MaxHeaderBytes || 8 + headerLength > (ulong)file.Length)
            throw new InvalidDataException("the header length does not fit the file");
        int dataStart = 8 + (int)headerLength;
        JsonObject header;
        try
        {
            header = JsonNode.Parse(file.AsSpan(8, (int)headerLength)) as JsonObject
                     ?? throw new InvalidDataException("the header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the header is not valid JSON ({e.Message})");
        }
        var metadata = new Dictionary<string, string>();
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            foreach ((string name, JsonNode? node) in header)
            {
                if (name == "__metadata__")
                {
                    foreach ((string key, JsonNode? value) in node!.AsObject()) metadata[key] = value!.GetValue<string>();
                    continue;
                }
                tensors[name] = ReadTensor(name, node!.AsObject(), file.AsSpan(dataStart));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException or KeyNotFoundException)
        {
            foreach (Tensor t in tensors.Values) t.Dispose();
            throw new InvalidDataException($"malformed header entry ({e.Message})");
        }
        return (tensors, metadata);
    }

    private static Tensor ReadTensor(string name, JsonObject entry, ReadOnlySpan<byte> data)
    {
        string dtype = entry["dtype"]!.GetValue<string>();
        if (!ScalarTypes.TryGetValue(dtype, out ScalarType type)) throw new InvalidDataException($"tensor '{name}' has unsupported dtype {dtype}");
        long[] shape = entry["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
        long begin = entry["data_offsets"]![0]!.GetValue<long>(), end = entry["data_offsets"]![1]!.GetValue<long>();
        Tensor t = empty(shape, type);
        long size = t.NumberOfElements * t.ElementSize;
        if (begin < 0 || end - begin != size || end > data.Length)
        {
            t.Dispose();
            throw new InvalidDataException($"tensor '{name}': byte range [{begin}, {end}) does not match its shape or the file");
        }
        if (size > 0) data.Slice((int)begin, (int)size).CopyTo(t.bytes);
        return t;
    }
}

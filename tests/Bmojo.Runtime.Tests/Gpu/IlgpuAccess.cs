using System.Runtime.CompilerServices;

// ILGPU compiles kernels into a dynamic assembly named ILGPURuntime; it may see the kernels' internal argument structs.
[assembly: InternalsVisibleTo("ILGPURuntime")]

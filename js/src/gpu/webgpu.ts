// The slice of the WebGPU API the driver uses, typed structurally (no
// dependency on @webgpu/types; browsers' navigator.gpu and Dawn's Node
// package both satisfy it).
export interface GpuBuffer {
  readonly size: number;
  destroy(): void;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
}
export type GpuBindGroupLayout = object;
export type GpuBindGroup = object;
export type GpuPipeline = object;
export interface GpuComputePass {
  setPipeline(p: GpuPipeline): void;
  setBindGroup(index: number, group: GpuBindGroup, dynamicOffsets?: number[] | Uint32Array, start?: number, length?: number): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
export interface GpuCommandEncoder {
  beginComputePass(descriptor?: unknown): GpuComputePass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  finish(): unknown;
}
export interface GpuError {
  message: string;
}
export interface GpuDevice {
  features: Iterable<string> & { has(name: string): boolean };
  limits: Record<string, number>;
  queue: {
    submit(buffers: unknown[]): void;
    writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView, dataOffset?: number, size?: number): void;
    onSubmittedWorkDone(): Promise<void>;
  };
  lost: Promise<{ reason?: string; message?: string }>;
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): GpuBuffer;
  createBindGroupLayout(d: { entries: unknown[] }): GpuBindGroupLayout;
  createPipelineLayout(d: { bindGroupLayouts: GpuBindGroupLayout[] }): unknown;
  createBindGroup(d: { layout: GpuBindGroupLayout; entries: unknown[] }): GpuBindGroup;
  createShaderModule(d: { code: string; label?: string }): GpuShaderModule;
  createComputePipelineAsync(d: unknown): Promise<GpuPipeline>;
  createCommandEncoder(): GpuCommandEncoder;
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<GpuError | null>;
  destroy(): void;
}
export interface GpuShaderModule {
  // WGSL's errors and warnings (line, column, message); not in every implementation.
  getCompilationInfo?(): Promise<{ messages: readonly { type: string; message: string; lineNum: number; linePos: number }[] }>;
}
export interface GpuAdapter {
  features: Iterable<string> & { has(name: string): boolean };
  limits: Record<string, number>;
  info?: Record<string, string>;
  requestDevice(d?: { requiredFeatures?: string[]; requiredLimits?: Record<string, number> }): Promise<GpuDevice>;
}

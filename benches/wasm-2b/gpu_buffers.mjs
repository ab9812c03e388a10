// Counts the bytes of every GPU buffer a WebGPU device creates (and destroys): wraps
// `requestAdapter` of a `navigator.gpu` so the devices it hands out count their buffers into
// `counter` ({ liveBytes, peakBytes, adapter }). cubecl allocates pools of buffers, so this is
// the device memory the package holds. Used in Node (node_run.mjs) and in Chromium's Worker
// (chromium_run.mjs serves this file to the page).
export function countGpuBuffers(gpu, counter) {
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = async (...args) => {
    const adapter = await requestAdapter(...args);
    if (!adapter) return adapter;
    const requestDevice = adapter.requestDevice.bind(adapter);
    const info = adapter.info ?? {};
    counter.adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown';
    adapter.requestDevice = async (...deviceArgs) => {
      const device = await requestDevice(...deviceArgs);
      const createBuffer = device.createBuffer.bind(device);
      device.createBuffer = (descriptor) => {
        const buffer = createBuffer(descriptor);
        counter.liveBytes += descriptor.size;
        counter.peakBytes = Math.max(counter.peakBytes, counter.liveBytes);
        const destroy = buffer.destroy.bind(buffer);
        buffer.destroy = () => {
          counter.liveBytes -= descriptor.size;
          destroy();
        };
        return buffer;
      };
      return device;
    };
    return adapter;
  };
  return gpu;
}

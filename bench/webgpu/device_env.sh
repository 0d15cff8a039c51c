# Sourced by the bench/webgpu/device_*.sh scripts on the GPU machine: makes
# the Vulkan loader, Node 26 and Dawn's npm `webgpu` from the bundle of
# make_device_bundle.sh (carried as .cache/gpu-bundle, or $GPU_BUNDLE) usable.
# Sets NODE, WEBGPU_MODULE, WLLAMA_DIR, VK_DRIVER_FILES and VULKAN_FROM;
# needs WORK (a scratch folder). Fails (returns 2) without a bundle.
BUNDLE=$(cd "${GPU_BUNDLE:-$(dirname "${BASH_SOURCE[0]}")/../../.cache/gpu-bundle}" 2>/dev/null && pwd) ||
  { echo "no bundle: run bench/webgpu/make_device_bundle.sh and carry .cache/gpu-bundle" >&2; return 2; }
unxz_to() { # unxz_to FILE.xz DEST   (xz, else Python's lzma)
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' "$1" "$2"; fi
}
untar_xz() { # untar_xz FILE.tar.xz DIR
  if command -v xz >/dev/null; then xz -dc "$1" | tar -xf - -C "$2"
  else python3 -c 'import tarfile,sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; fi
}
mkdir -p "$WORK/pkg"
if ! ldconfig -p | grep -q 'libvulkan\.so\.1 '; then
  for f in "$BUNDLE"/debs/lib{vulkan1,egl1,glvnd0,opengl0,gl1,glx0,gles2}_*.deb; do dpkg -x "$f" /; done
  VULKAN_FROM=bundle
else VULKAN_FROM=system; fi
if ! ldconfig -p | grep -q 'libatomic\.so\.1 '; then dpkg -x "$BUNDLE"/debs/libatomic1_*.deb /; fi
ldconfig
for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
         /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$f" ]; then export VK_DRIVER_FILES=${VK_DRIVER_FILES:-$f}; break; fi
done
for f in /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json; do
  [ -f "$f" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$f
done
unset VK_ICD_FILENAMES
NODE=$WORK/node
[ -x "$NODE" ] || { unxz_to "$BUNDLE/node-linux-x64.xz" "$NODE.tmp" && chmod +x "$NODE.tmp" && mv "$NODE.tmp" "$NODE"; }
[ -f "$WORK/pkg/webgpu/index.js" ] || untar_xz "$BUNDLE/webgpu.tar.xz" "$WORK/pkg"
[ -f "$WORK/pkg/wllama/esm/index.js" ] || untar_xz "$BUNDLE/wllama.tar.xz" "$WORK/pkg"
export WEBGPU_MODULE=$WORK/pkg/webgpu/index.js WLLAMA_DIR=$WORK/pkg/wllama

// The WGSL sources of src/backends/webgpu/shaders/, embedded at build time
// (cmake/embed_shaders.cmake).
#pragma once

#include <string_view>

namespace wa::gpu {

struct ShaderSource {
  const char* name;  // file name without .wgsl
  const char* text;
};
extern const ShaderSource kShaderSources[];
extern const int kShaderCount;

// The source of shaders/<name>.wgsl. A name with no file (a backend bug)
// gives a line that fails compilation, so the pipeline's error (with the
// compiler's messages) says so instead of a module silently missing a part.
inline std::string_view shader_source(std::string_view name) {
  for (int i = 0; i < kShaderCount; ++i) {
    if (name == kShaderSources[i].name) return kShaderSources[i].text;
  }
  return "const_assert false;  // shader_source: the backend asked for a WGSL file that does not exist\n";
}

}  // namespace wa::gpu

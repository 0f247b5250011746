// Classify one handwritten digit with the edgemnist MLP on TensorFlow Lite Micro.
//
// Build it into a TFLM app together with the generated model_data.cc / model_data.h
// (edgemnist export --format micro), e.g. next to tensorflow/lite/micro/examples/hello_world.
//
// The arena size (kEdgemnistTensorArenaSize) is the smallest arena with which the tflite-micro *Python*
// interpreter (reference kernels, RecordingMicroAllocator, x86-64) allocated and ran the model, rounded up
// to 16. A C++ MicroInterpreter with the plain allocator needs a little less (its allocator objects are
// smaller); other kernels (e.g. CMSIS-NN) or another TFLM version may need more. The one check that holds
// on every board is AllocateTensors()'s status, below: never run Invoke() after it failed.
//
// Do not size the arena from interpreter.arena_used_bytes(): it is read after AllocateTensors() has
// released the temporary copies the FULLY_CONNECTED kernel's Prepare makes of its per-channel quantized
// weights and bias (two 512-entry zero-point arrays, 4 + 512 * 4 = 2,052 B each), so it reports about
// 3 KB less than the arena must hold while Prepare runs.

#include <cstdint>
#include <cstdio>

#include "model_data.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

// The working memory of the interpreter: activations, tensor structs, kernel state.
// The weights stay in flash, inside g_edgemnist_model_data.
alignas(kEdgemnistTensorArenaAlignment) uint8_t tensor_arena[kEdgemnistTensorArenaSize];

// A 28x28 digit, white on black like MNIST: '#' is pixel 255, '+' is 128, '.' is 0.
const char* const kDigit[28] = {
    "............................",
    "............................",
    "............................",
    "............................",
    "............................",
    "............................",
    "......+##############+......",
    "......################......",
    "......+++++++++++#####......",
    "................+####+......",
    "................####+.......",
    "...............+####........",
    "...............####+........",
    "..............+####.........",
    "..............####+.........",
    ".............+####..........",
    ".............####+..........",
    "............+####...........",
    "............####+...........",
    "...........+####............",
    "...........####+............",
    "..........+####.............",
    "..........####+.............",
    "..........+##+..............",
    "............................",
    "............................",
    "............................",
    "............................",
};

}  // namespace

// Returns the predicted digit (0-9), or -1 if the interpreter fails.
int Classify(tflite::MicroInterpreter& interpreter, const uint8_t pixels[kEdgemnistInputSize],
             float* probability) {
  TfLiteTensor* input = interpreter.input(0);
  // int8 input with scale 1/255 and zero point -128: a uint8 pixel p becomes p - 128, exactly.
  for (int i = 0; i < kEdgemnistInputSize; ++i) {
    input->data.int8[i] = static_cast<int8_t>(static_cast<int>(pixels[i]) + kEdgemnistInputZeroPoint);
  }
  if (interpreter.Invoke() != kTfLiteOk) return -1;
  const int8_t* scores = interpreter.output(0)->data.int8;
  int best = 0;
  for (int d = 1; d < kEdgemnistNumClasses; ++d) {
    if (scores[d] > scores[best]) best = d;
  }
  *probability = (scores[best] - kEdgemnistOutputZeroPoint) * kEdgemnistOutputScale;
  return best;
}

int main() {
  tflite::InitializeTarget();
  const tflite::Model* model = tflite::GetModel(g_edgemnist_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    MicroPrintf("model schema %d, this TFLM expects %d", model->version(), TFLITE_SCHEMA_VERSION);
    return 1;
  }
  // The model needs exactly these ops: FULLY_CONNECTED (x2) and SOFTMAX.
  tflite::MicroMutableOpResolver<2> resolver;
  resolver.AddFullyConnected();
  resolver.AddSoftmax();

  tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, kEdgemnistTensorArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    MicroPrintf("AllocateTensors failed: the arena (%u bytes) is too small for these kernels",
                static_cast<unsigned>(kEdgemnistTensorArenaSize));
    return 1;
  }
  // After AllocateTensors(): excludes Prepare's temporary peak (see the top of this file).
  MicroPrintf("arena: %u bytes in use after AllocateTensors() (arena %u bytes)",
              static_cast<unsigned>(interpreter.arena_used_bytes()),
              static_cast<unsigned>(kEdgemnistTensorArenaSize));

  uint8_t pixels[kEdgemnistInputSize];
  for (int r = 0; r < 28; ++r) {
    for (int c = 0; c < 28; ++c) {
      const char ch = kDigit[r][c];
      pixels[r * 28 + c] = ch == '#' ? 255 : ch == '+' ? 128 : 0;
    }
  }
  float probability = 0.0f;
  const int digit = Classify(interpreter, pixels, &probability);
  if (digit < 0) {
    MicroPrintf("Invoke failed");
    return 1;
  }
  MicroPrintf("predicted digit: %d (probability %d%%)", digit, static_cast<int>(probability * 100.0f + 0.5f));
  return 0;
}

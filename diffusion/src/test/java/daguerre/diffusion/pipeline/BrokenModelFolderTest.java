package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.safetensors.DType;
import daguerre.weights.safetensors.SafetensorsFile;
import daguerre.weights.safetensors.SafetensorsWriter;
import daguerre.weights.safetensors.SafetensorsWriter.Tensor;
import daguerre.weights.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Broken diffusers folders, each the tiny golden model with one defect, are refused at load with an
 * {@link IOException} whose message names the file and the field or tensor (and the bad value) —
 * never an out-of-memory error, an {@link ArithmeticException} or a DJL shape error.
 */
class BrokenModelFolderTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String UNET = "unet/config.json";
    private static final String VAE = "vae/config.json";
    private static final String TEXT = "text_encoder/config.json";
    private static final String SCHEDULER = "scheduler/scheduler_config.json";
    private static final String UNET_WEIGHTS = "unet/diffusion_pytorch_model.safetensors";
    private static final String VAE_WEIGHTS = "vae/diffusion_pytorch_model.safetensors";
    private static final String TEXT_WEIGHTS = "text_encoder/model.safetensors";

    @TempDir
    Path temp;

    /** A defect: what it does to the folder, the file the error must name, and what else it must say. */
    interface Defect {
        void apply(Path root) throws IOException;
    }

    static Stream<Arguments> brokenFolders() {
        return Stream.of(
                broken("no model_index.json", root -> Files.delete(root.resolve("model_index.json")),
                        "", "not a diffusers model folder (no model_index.json)"),
                broken("model_index.json not JSON", root -> Files.writeString(root.resolve("model_index.json"), "{\"unet\": ["),
                        "model_index.json", "not valid JSON"),
                broken("model_index.json names an SDXL text encoder", json("model_index.json",
                                j -> j.putArray("text_encoder").add("transformers").add("CLIPTextModelWithProjection")),
                        "model_index.json", "text_encoder class CLIPTextModelWithProjection is not supported"),
                broken("no unet config", root -> Files.delete(root.resolve(UNET)), "unet", "no config.json"),
                broken("unet config truncated JSON", root -> truncateText(root.resolve(UNET)), UNET, "not valid JSON"),
                broken("unet layers_per_block wrong type", json(UNET, j -> j.put("layers_per_block", "two")),
                        UNET, "layers_per_block must be an integer"),
                broken("unet layers_per_block 0", json(UNET, j -> j.put("layers_per_block", 0)), UNET, "layers_per_block = 0"),
                broken("unet norm_num_groups 0 (division by zero)", json(UNET, j -> j.put("norm_num_groups", 0)),
                        UNET, "norm_num_groups = 0"),
                broken("unet attention_head_dim 0 (division by zero)", json(UNET, j -> j.put("attention_head_dim", 0)),
                        UNET, "attention_head_dim[0] = 0"),
                broken("unet attention_head_dim does not divide channels", json(UNET, j -> j.put("attention_head_dim", 5)),
                        UNET, "attention_head_dim[0] (heads) = 5"),
                broken("unet attention_head_dim list too long", json(UNET, j -> j.putArray("attention_head_dim").add(8).add(8).add(8)),
                        UNET, "attention_head_dim has 3 entries but block_out_channels has 2"),
                broken("unet up_block_types list too short", json(UNET, j -> j.putArray("up_block_types").add("UpBlock2D")),
                        UNET, "up_block_types has 1 entries"),
                broken("unet negative channels", json(UNET, j -> j.putArray("block_out_channels").add(32).add(-64)),
                        UNET, "block_out_channels[1] = -64"),
                broken("unet sample_size 0", json(UNET, j -> j.put("sample_size", 0)), UNET, "sample_size = 0"),
                broken("unet norm_eps negative", json(UNET, j -> j.put("norm_eps", -1e-5)), UNET, "norm_eps = "),
                broken("vae scaling_factor 0", json(VAE, j -> j.put("scaling_factor", 0)), VAE, "scaling_factor = 0.0"),
                broken("vae channels not divisible by groups", json(VAE, j -> j.put("norm_num_groups", 7)),
                        VAE, "is not a multiple of norm_num_groups = 7"),
                broken("vae latent_channels negative", json(VAE, j -> j.put("latent_channels", -4)), VAE, "latent_channels = -4"),
                broken("text encoder heads 0 (division by zero)", json(TEXT, j -> j.put("num_attention_heads", 0)),
                        TEXT, "num_attention_heads = 0"),
                broken("text encoder hidden_size not split by heads", json(TEXT, j -> j.put("hidden_size", 30)),
                        TEXT, "hidden_size = 30 is not a multiple of num_attention_heads"),
                broken("text encoder vocab_size missing", json(TEXT, j -> j.remove("vocab_size")), TEXT, "vocab_size is missing"),
                broken("text encoder layer_norm_eps a string", json(TEXT, j -> j.put("layer_norm_eps", "small")),
                        TEXT, "layer_norm_eps must be a number"),
                broken("text encoder eos_token_id outside the vocabulary", json(TEXT, j -> j.put("eos_token_id", 10_000_000)),
                        TEXT, "eos_token_id = 10000000"),
                broken("scheduler huge num_train_timesteps", json(SCHEDULER, j -> j.put("num_train_timesteps", 2_000_000_000)),
                        SCHEDULER, "num_train_timesteps = 2000000000 is out of range (allowed 2..100000)"),
                broken("scheduler beta_start above beta_end", json(SCHEDULER, j -> j.put("beta_start", 0.02)),
                        SCHEDULER, "beta_start = 0.02 must be less than beta_end = 0.012"),
                broken("scheduler beta_end 1.5", json(SCHEDULER, j -> j.put("beta_end", 1.5)), SCHEDULER, "beta_end = 1.5"),
                broken("unet weight NaN", root -> poison(root.resolve(UNET_WEIGHTS), Float.NaN),
                        UNET_WEIGHTS, "holds a non-finite value (NaN)"),
                broken("vae weight infinite", root -> poison(root.resolve(VAE_WEIGHTS), Float.POSITIVE_INFINITY),
                        VAE_WEIGHTS, "holds a non-finite value (Infinity)"),
                broken("text encoder weight of the wrong shape", root -> shrinkFirstMatrix(root.resolve(TEXT_WEIGHTS)),
                        TEXT_WEIGHTS, "but the model expects"),
                broken("unet tensor missing", root -> dropFirstTensor(root.resolve(UNET_WEIGHTS)), UNET_WEIGHTS, "1 missing key(s)"),
                broken("vae weights truncated", root -> truncateBinary(root.resolve(VAE_WEIGHTS)), VAE_WEIGHTS, ""),
                broken("unet weights file missing", root -> Files.delete(root.resolve(UNET_WEIGHTS)), "unet", "no weights file"),
                broken("tokenizer vocab.json missing", root -> Files.delete(root.resolve("tokenizer/vocab.json")),
                        "tokenizer", "vocab.json"),
                broken("tokenizer vocabulary empty", root -> Files.writeString(root.resolve("tokenizer/vocab.json"), "{}"),
                        "tokenizer/vocab.json", "empty vocabulary"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenFolders")
    void aBrokenFolderIsRefusedNamingTheFileAndField(String name, Defect defect, String file, String detail) throws IOException {
        Path root = TinyModelFolder.create(temp, "broken");
        defect.apply(root);
        IOException e = assertThrows(IOException.class, () -> StableDiffusionModel.load(root, null, new ModelHasher()).close(),
                name + " must be refused with an IOException");
        String message = e.getMessage();
        assertTrue(message.contains(root.resolve(file).toString()), name + ": the message must name " + file + ": " + message);
        assertTrue(message.contains(detail), name + ": the message must say '" + detail + "': " + message);
        assertFalse(message.contains("The shape must be"), message);
    }

    @Test
    void theUnbrokenTinyFolderLoads() throws IOException {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "fine"), null, new ModelHasher())) {
            assertTrue(model.vae().config().scalingFactor() > 0);
        }
    }

    private static Arguments broken(String name, Defect defect, String file, String detail) {
        return Arguments.of(name, defect, file, detail);
    }

    private static Defect json(String file, Consumer<ObjectNode> edit) {
        return root -> {
            Path path = root.resolve(file);
            ObjectNode node = (ObjectNode) JSON.readTree(path.toFile());
            edit.accept(node);
            JSON.writeValue(path.toFile(), node);
        };
    }

    private static void truncateText(Path file) throws IOException {
        String text = Files.readString(file);
        Files.writeString(file, text.substring(0, text.length() / 2));
    }

    private static void truncateBinary(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(channel.size() / 2);
        }
    }

    /** Sets the middle element of the file's largest floating-point tensor to {@code value}. */
    private static void poison(Path file, float value) throws IOException {
        rewrite(file, (info, tensors) -> {
            List<Tensor> out = new ArrayList<>(tensors);
            int largest = 0;
            for (int i = 0; i < out.size(); i++) {
                if (out.get(i).floats() != null && (out.get(largest).floats() == null
                        || out.get(i).floats().length > out.get(largest).floats().length)) {
                    largest = i;
                }
            }
            Tensor t = out.get(largest);
            float[] values = t.floats().clone();
            values[values.length / 2] = value;
            out.set(largest, Tensor.of(t.name(), DType.F32, t.shape(), values));
            return out;
        });
    }

    /** Drops the first row of the first floating-point matrix with more than one row. */
    private static void shrinkFirstMatrix(Path file) throws IOException {
        rewrite(file, (info, tensors) -> {
            List<Tensor> out = new ArrayList<>(tensors);
            for (int i = 0; i < out.size(); i++) {
                Tensor t = out.get(i);
                if (t.floats() != null && t.shape().length == 2 && t.shape()[0] > 2) {
                    long[] shape = {t.shape()[0] - 1, t.shape()[1]};
                    out.set(i, Tensor.of(t.name(), DType.F32, shape, Arrays.copyOf(t.floats(), (int) (shape[0] * shape[1]))));
                    return out;
                }
            }
            throw new IllegalStateException("no matrix in " + file);
        });
    }

    private static void dropFirstTensor(Path file) throws IOException {
        rewrite(file, (info, tensors) -> tensors.subList(1, tensors.size()));
    }

    interface Edit {
        List<Tensor> apply(List<TensorInfo> infos, List<Tensor> tensors);
    }

    private static void rewrite(Path file, Edit edit) throws IOException {
        List<TensorInfo> infos = new ArrayList<>();
        List<Tensor> tensors = new ArrayList<>();
        try (SafetensorsFile in = SafetensorsFile.open(file)) {
            for (String name : in.names().stream().sorted().toList()) {
                TensorInfo info = in.info(name);
                infos.add(info);
                tensors.add(info.dtype().isFloating()
                        ? Tensor.of(name, DType.F32, info.shape(), in.floats(name))
                        : Tensor.i64(name, info.shape(), in.longs(name)));
            }
        }
        SafetensorsWriter.write(file, edit.apply(infos, tensors));
    }
}

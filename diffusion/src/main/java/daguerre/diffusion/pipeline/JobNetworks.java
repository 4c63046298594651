package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDManager;
import daguerre.diffusion.embeddings.TextualInversionLibrary;
import daguerre.diffusion.lora.LoraLibrary;
import daguerre.diffusion.lora.LoraMerger;
import daguerre.diffusion.lora.LoraTags;
import daguerre.diffusion.lora.RequestedLora;
import daguerre.diffusion.lora.RuntimeLora;
import daguerre.diffusion.lora.RuntimeLoras;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.text.ExtraTokens;
import daguerre.diffusion.text.PromptEncoder;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.lora.LoraNetwork;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The extra networks (A1111's word) one job runs: its LoRAs, uploaded into the job's manager to run
 * beside the model's layers, and the textual-inversion embeddings its prompts may use; with what the
 * infotext records of them ({@code Lora hashes}, {@code TI hashes}).
 *
 * @param loras each LoRA that changes something: its name, A1111 hash, and factors with the job's weights
 * @param inversions the embeddings the model can use, per text encoder
 * @param embeddingHashes {@code name: hash} of each embedding the prompts use, in order of first use
 */
record JobNetworks(List<Lora> loras, TextualInversionLibrary.ForModel inversions, List<String> embeddingHashes) {

    /** One LoRA of the job. */
    record Lora(String name, String hash, RuntimeLoras.Use use) {}

    JobNetworks {
        loras = List.copyOf(loras);
        embeddingHashes = List.copyOf(embeddingHashes);
    }

    /**
     * The networks of {@code request} on {@code model}: its LoRAs (tags and list) that are not at weight 0,
     * read from {@code loraLibrary} (null: a request with LoRAs is refused) and uploaded into {@code job};
     * the embeddings of {@code embeddingLibrary} (null: none).
     */
    static JobNetworks prepare(GenerationRequest request, StableDiffusionModel model, LoraLibrary loraLibrary,
                               TextualInversionLibrary embeddingLibrary, NDManager job) {
        TextualInversionLibrary.ForModel inversions = embeddingLibrary == null
                ? new TextualInversionLibrary.ForModel(ExtraTokens.NONE, ExtraTokens.NONE, Map.of())
                : embeddingLibrary.forModel(model);
        return new JobNetworks(loras(request, model, loraLibrary, job), inversions,
                embeddingHashes(request, model, embeddingLibrary, inversions));
    }

    /** The LoRAs with the job's weights, for the branches of the passes it takes part in. */
    List<RuntimeLoras.Use> loraUses() {
        return loras.stream().map(Lora::use).toList();
    }

    /** Adds A1111's {@code TI hashes} and {@code Lora hashes} ("name: 0123456789ab, other: ...", quoted by Infotext). */
    void infotext(Map<String, String> params) {
        if (!embeddingHashes.isEmpty()) {
            params.put("TI hashes", String.join(", ", embeddingHashes));
        }
        if (!loras.isEmpty()) {
            params.put("Lora hashes", String.join(", ", loras.stream().map(l -> l.name() + ": " + l.hash()).distinct().toList()));
        }
    }

    private static List<Lora> loras(GenerationRequest request, StableDiffusionModel model, LoraLibrary library, NDManager job) {
        List<RequestedLora> requested = request.allLoras().stream().filter(l -> !l.isOff()).toList();
        if (requested.isEmpty()) {
            return List.of();
        }
        if (library == null) {
            throw new InvalidRequestException("loras", "this pipeline has no LoRA folder, so it cannot run LoRA "
                    + requested.get(0).name());
        }
        Map<LoraNetwork, Module> networks = LoraMerger.networks(model);
        List<Lora> out = new ArrayList<>();
        for (RequestedLora r : requested) {
            try {
                LoraFile file = library.load(r.name(), model);
                RuntimeLora uploaded = RuntimeLora.upload(file, networks, job);
                out.add(new Lora(file.name(), library.shortHash(file.path()),
                        new RuntimeLoras.Use(uploaded, (float) r.unetWeight(), (float) r.textEncoderWeight())));
            } catch (IOException e) {
                throw new InvalidRequestException("loras", "cannot read LoRA '" + r.name() + "': " + e.getMessage());
            } catch (IllegalArgumentException e) {
                throw e instanceof InvalidRequestException ? e
                        : new InvalidRequestException("loras", "LoRA '" + r.name() + "' does not fit model " + model.id() + ": " + e.getMessage());
            }
        }
        return out;
    }

    private static List<String> embeddingHashes(GenerationRequest request, StableDiffusionModel model,
                                                TextualInversionLibrary library, TextualInversionLibrary.ForModel inversions) {
        if (inversions.files().isEmpty()) {
            return List.of();
        }
        PromptEncoder.Options options = PromptEncoder.Options.DEFAULTS.withClipSkip(request.clipSkip());
        List<String> used = new ArrayList<>();
        for (String text : List.of(request.prompt(), request.negativePrompt())) {
            for (String name : PromptEncoder.chunk(model.tokenizer(), options, LoraTags.strip(text), inversions.first()).embeddings()) {
                if (!used.contains(name)) {
                    used.add(name);
                }
            }
        }
        List<String> hashes = new ArrayList<>();
        for (String name : used) {
            try {
                hashes.add(name + ": " + library.shortHash(inversions.files().get(name)));
            } catch (IOException e) {
                throw new InvalidRequestException("prompt", "cannot read embedding '" + name + "': " + e.getMessage());
            }
        }
        return hashes;
    }
}

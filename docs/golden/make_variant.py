#!/usr/bin/env python3
"""Writes a variant of the golden reference cases that a correct port must pass exactly as it passes
the shipped ones: the tests derive every expectation from the case files.

    cp -r ../shared/golden /tmp/gv && chmod -R u+w /tmp/gv && python3 docs/golden/make_variant.py /tmp/gv
    mvn -B test -pl diffusion -am -Dgolden.dir=/tmp/gv

What changes (the reference outputs stay exactly valid, so nothing needs diffusers or torch):
* clip_tokenizer: regular token ids rotated by 100, a new '<|pad|>' token (812) that padding uses,
  bos 813, eos 814, vocab size 815; cases.json and tokens.safetensors rewritten to match.
* clip_text_tiny, clip_text_tiny_gelu: token-embedding rows permuted the same way (the pad row is a
  copy of the eos row), input_ids rewritten; pipeline_tiny's prompt / negative ids rewritten.
* timesteps stored as F32 (unet_tiny, timestep_embedding) and F64 (unet_tiny_v2, pipeline_tiny,
  schedulers/ddim_leading_eta0) instead of I64.
Needs numpy only.
"""
import json, struct, sys
import numpy as np

DT = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64, 'F16': np.float16, 'U8': np.uint8, 'I32': np.int32}
def read(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8+n])
    meta = h.pop('__metadata__', None)
    out = {}
    for k, v in h.items():
        s, e = v['data_offsets']
        out[k] = np.frombuffer(b[8+n+s:8+n+e], dtype=DT[v['dtype']]).reshape(v['shape']).copy()
    return out, meta
def write(path, tensors, meta=None):
    h = {}
    off = 0
    names = list(tensors)
    blobs = []
    inv = {np.dtype(v): k for k, v in DT.items()}
    for k in names:
        a = np.ascontiguousarray(tensors[k])
        by = a.tobytes()
        h[k] = {'dtype': inv[a.dtype], 'shape': list(a.shape), 'data_offsets': [off, off+len(by)]}
        off += len(by); blobs.append(by)
    if meta is not None: h['__metadata__'] = meta
    hb = json.dumps(h).encode()
    hb += b' ' * ((8 - len(hb) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hb))); f.write(hb)
        for by in blobs: f.write(by)

G = sys.argv[1] if len(sys.argv) > 1 else sys.exit('usage: make_variant.py GOLDEN_COPY_DIR')

OLD_V = 814
BOS_OLD, EOS_OLD = 812, 813
PAD_NEW, BOS_NEW, EOS_NEW = 812, 813, 814

def new_id(o):
    if o == BOS_OLD: return BOS_NEW
    if o == EOS_OLD: return EOS_NEW
    assert 0 <= o < 812, o
    return (o + 100) % 812

def map_ids(ids):
    return np.vectorize(new_id, otypes=[np.int64])(ids) if ids.size else ids.astype(np.int64)

def map_padded(ids, mask=None, pad=PAD_NEW):
    """ids [N, L]; positions after the first EOS (or mask == 0) become the new pad id."""
    out = map_ids(ids).reshape(ids.shape)
    for n in range(ids.shape[0]):
        if mask is not None:
            out[n][mask[n] == 0] = pad
        else:
            row = list(ids[n])
            first = row.index(EOS_OLD)
            out[n, first + 1:] = pad
    return out

# --- clip_tokenizer
d = f'{G}/clip_tokenizer'
vocab = json.load(open(f'{d}/vocab.json'))
assert len(vocab) == OLD_V
new_vocab = {t: new_id(i) for t, i in vocab.items()}
new_vocab['<|pad|>'] = PAD_NEW
new_vocab = dict(sorted(new_vocab.items(), key=lambda kv: kv[1]))
assert sorted(new_vocab.values()) == list(range(OLD_V + 1))
json.dump(new_vocab, open(f'{d}/vocab.json', 'w'), ensure_ascii=False)
for f in ['tokenizer_config.json', 'special_tokens_map.json']:
    c = json.load(open(f'{d}/{f}')); c['pad_token'] = '<|pad|>'; json.dump(c, open(f'{d}/{f}', 'w'), indent=2)
cases = json.load(open(f'{d}/cases.json'))
cases.update(bos_id=BOS_NEW, eos_id=EOS_NEW, pad_id=PAD_NEW, unk_id=EOS_NEW, vocab_size=OLD_V + 1)
for c in cases['cases']:
    c['ids'] = [new_id(i) for i in c['ids']]
    mask = c['attention_mask_77']
    c['ids_padded_77'] = [new_id(i) if m else PAD_NEW for i, m in zip(c['ids_padded_77'], mask)]
json.dump(cases, open(f'{d}/cases.json', 'w'), ensure_ascii=False, indent=1)
t, meta = read(f'{d}/tokens.safetensors')
for k in t:
    if k.startswith('ids_') and k != 'ids_padded_77':
        t[k] = map_ids(t[k]).reshape(t[k].shape)
t['ids_padded_77'] = map_padded(t['ids_padded_77'], t['attention_mask_77'])
write(f'{d}/tokens.safetensors', t, meta)

# --- text models: permute embedding rows
def permute_embedding(w, pad_row_from=EOS_OLD):
    out = w.copy()
    for o in range(OLD_V):
        out[new_id(o)] = w[o]
    out[PAD_NEW] = w[pad_row_from]
    return out

for case, keys in [('clip_text_tiny', {'text_encoder_transformers.safetensors': 'text_model.embeddings.token_embedding.weight',
                                       'text_encoder_original.safetensors': 'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight'}),
                   ('clip_text_tiny_gelu', {'text_encoder_transformers.safetensors': 'text_model.embeddings.token_embedding.weight',
                                            'text_encoder_original.safetensors': 'cond_stage_model.model.token_embedding.weight'})]:
    d = f'{G}/{case}'
    for f, key in keys.items():
        t, meta = read(f'{d}/{f}')
        t[key] = permute_embedding(t[key])
        write(f'{d}/{f}', t, meta)
    t, meta = read(f'{d}/inputs_outputs.safetensors')
    if case == 'clip_text_tiny':
        t['input_ids'] = map_padded(t['input_ids'])        # SD1: pad (was eos) -> '<|pad|>'
    else:
        t['input_ids'] = map_ids(t['input_ids']).reshape(t['input_ids'].shape)  # SD2: pad '!' is a regular token
    write(f'{d}/inputs_outputs.safetensors', t, meta)
c = json.load(open(f'{G}/clip_text_tiny/config.json'))
c.update(bos_token_id=BOS_NEW, eos_token_id=EOS_NEW, pad_token_id=PAD_NEW)
json.dump(c, open(f'{G}/clip_text_tiny/config.json', 'w'), indent=2)

# --- pipeline_tiny ids
for run in ['ddim_with_negative', 'ddim_no_negative', 'euler_a_with_negative']:
    f = f'{G}/pipeline_tiny/{run}.safetensors'
    t, meta = read(f)
    for k in ['prompt_input_ids', 'negative_input_ids']:
        t[k] = map_padded(t[k])
    if t['timesteps'].dtype == np.int64:
        t['timesteps'] = t['timesteps'].astype(np.float64)   # fractional-capable storage
    write(f, t, meta)

# --- timesteps as floats
def retype(path, key, dtype):
    t, meta = read(path)
    assert np.all(t[key].astype(dtype) == t[key]), key
    t[key] = t[key].astype(dtype)
    write(path, t, meta)
retype(f'{G}/unet_tiny/inputs_outputs.safetensors', 'timestep', np.float32)
retype(f'{G}/unet_tiny_v2/inputs_outputs.safetensors', 'timestep', np.float64)
retype(f'{G}/timestep_embedding/timestep_embedding.safetensors', 'timesteps', np.float32)
t, meta = read(f'{G}/schedulers/ddim_leading_eta0.safetensors')
for k in list(t):
    if 'timesteps' in k and t[k].dtype == np.int64:
        t[k] = t[k].astype(np.float64)
write(f'{G}/schedulers/ddim_leading_eta0.safetensors', t, meta)
print('variant written in', G)

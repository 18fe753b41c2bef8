"""Export lmlab models to Hugging Face ``transformers`` folders (config.json, safetensors, tokenizer).

    export_hf("runs/gpt", "hf/gpt")      # then transformers.AutoModelForCausalLM.from_pretrained("hf/gpt")
"""

from lmlab.export.hf import bert_state_dict, export_hf, gpt2_state_dict, to_hf_bert, to_hf_gpt2
from lmlab.export.tokenizer import hf_tokenizer

__all__ = ["bert_state_dict", "export_hf", "gpt2_state_dict", "hf_tokenizer", "to_hf_bert", "to_hf_gpt2"]

(function () {
  var P = __PARAMS__, root = document.getElementById(P.id);
  var temp = root.querySelector(".lmlab-temp"), topk = root.querySelector(".lmlab-topk");
  var out = root.querySelector(".lmlab-bars"), label = root.querySelector(".lmlab-label");
  function draw() {
    var t = parseFloat(temp.value), k = parseInt(topk.value, 10), z = P.logits;
    label.textContent = "temperature " + t.toFixed(2) + ", top-k " + k;
    var order = z.map(function (v, i) { return i; }).sort(function (a, b) { return z[b] - z[a]; });
    var keep = order.slice(0, k), m = z[keep[0]] / t, s = 0, p = {};
    keep.forEach(function (i) { p[i] = Math.exp(z[i] / t - m); s += p[i]; });
    while (out.firstChild) out.removeChild(out.firstChild);
    order.slice(0, P.show).forEach(function (i) {
      var row = document.createElement("div"), name = document.createElement("span"),
          bar = document.createElement("span"), val = document.createElement("span"), q = (p[i] || 0) / s;
      row.style.cssText = "display:flex;align-items:center;gap:6px;height:18px;";
      name.className = "lmlab-token"; name.textContent = P.tokens[i];
      name.style.cssText = "width:90px;text-align:right;font-family:monospace;white-space:pre;overflow:hidden;";
      bar.style.cssText = "display:inline-block;height:12px;background:" + (i in p ? "#0072B2" : "#ccc") +
                          ";width:" + Math.max(1, 260 * q) + "px;";
      val.textContent = (i in p) ? q.toFixed(3) : P.cut;
      row.appendChild(name); row.appendChild(bar); row.appendChild(val); out.appendChild(row);
    });
  }
  temp.addEventListener("input", draw); topk.addEventListener("input", draw); draw();
})();

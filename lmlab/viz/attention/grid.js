(function () {
  var P = __PARAMS__;
  var root = document.getElementById(P.id);
  var L = P.w.length, H = P.w[0].length, T = P.tokens.length;
  var STOPS = [[68,1,84],[59,82,139],[33,145,140],[94,201,98],[253,231,37]];  // viridis
  function color(v) {
    if (v === null) return "rgb(221,221,221)";
    var x = Math.max(0, Math.min(1, v)) * (STOPS.length - 1), i = Math.min(STOPS.length - 2, Math.floor(x));
    var f = x - i, a = STOPS[i], b = STOPS[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + f * (b[k] - a[k])); }).join(",") + ")";
  }
  function matrix(l, h) {  // h === -1: mean over heads
    if (h >= 0) return P.w[l][h];
    var m = [];
    for (var i = 0; i < T; i++) { m.push([]); for (var j = 0; j < T; j++) {
      var s = 0; for (var k = 0; k < H; k++) s += P.w[l][k][i][j]; m[i].push(s / H); } }
    return m;
  }
  function masked(i, j) { return P.causal && j > i; }
  function label(h) { return h < 0 ? P.t.mean : P.t.head.replace("{h}", h); }
  var grid = root.querySelector(".lmlab-grid"), status = root.querySelector(".lmlab-status");
  var detail = root.querySelector(".lmlab-detail"), avg = root.querySelector(".lmlab-avg");
  var SVG = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function drawThumb(canvas, m) {
    var ctx = canvas.getContext("2d"), s = canvas.width / T;
    for (var i = 0; i < T; i++) for (var j = 0; j < T; j++) {
      ctx.fillStyle = color(masked(i, j) ? null : m[i][j]); ctx.fillRect(j * s, i * s, Math.ceil(s), Math.ceil(s));
    }
  }
  function showDetail(l, h) {
    var m = matrix(l, h), cell = Math.max(8, Math.min(22, Math.floor(440 / T))), pad = P.pad;
    while (detail.firstChild) detail.removeChild(detail.firstChild);
    var top = pad + 20;  // room for the title above the rotated column labels
    var svg = el("svg", {width: pad + T * cell + 4, height: top + T * cell + 4, "class": "lmlab-detail-svg"}, detail);
    var title = el("text", {x: 0, y: 12, "font-size": 12, "font-weight": "bold"}, svg);
    title.textContent = P.t.layer.replace("{l}", l) + ", " + label(h) + P.t.axes;
    for (var i = 0; i < T; i++) {
      var ty = el("text", {x: pad - 4, y: top + i * cell + cell * 0.7, "text-anchor": "end", "font-size": Math.min(12, cell - 1),
                           "class": "lmlab-token"}, svg);
      ty.textContent = P.tokens[i];
      var tx = el("text", {transform: "translate(" + (pad + i * cell + cell * 0.7) + "," + (top - 4) + ") rotate(-90)",
                           "font-size": Math.min(12, cell - 1), "class": "lmlab-token"}, svg);
      tx.textContent = P.tokens[i];
    }
    for (var r = 0; r < T; r++) for (var c = 0; c < T; c++) {
      var rect = el("rect", {x: pad + c * cell, y: top + r * cell, width: cell, height: cell,
                             fill: color(masked(r, c) ? null : m[r][c])}, svg);
      var t = el("title", {}, rect);
      t.textContent = masked(r, c) ? P.tokens[r] + " \u2192 " + P.tokens[c] + ": " + P.t.future
                                   : P.tokens[r] + " \u2192 " + P.tokens[c] + ": " + m[r][c].toFixed(3);
      (function (r, c, text) { rect.addEventListener("mouseenter", function () { status.textContent = text; }); })(r, c, t.textContent);
    }
  }
  function drawGrid() {
    while (grid.firstChild) grid.removeChild(grid.firstChild);
    var heads = avg.checked ? [-1] : Array.from({length: H}, function (_, k) { return k; });
    var table = document.createElement("table"); table.style.borderCollapse = "collapse";
    var head = table.insertRow(); head.insertCell();
    heads.forEach(function (h) { var c = head.insertCell(); c.textContent = label(h); c.style.fontSize = "11px"; });
    for (var l = 0; l < L; l++) {
      var row = table.insertRow(), name = row.insertCell();
      name.textContent = P.t.layer.replace("{l}", l); name.style.fontSize = "11px";
      heads.forEach(function (h) {
        var canvas = document.createElement("canvas"), size = Math.max(T, Math.min(96, Math.floor(600 / heads.length)));
        canvas.width = canvas.height = size; canvas.style.cursor = "pointer"; canvas.title = "layer " + l + ", " + label(h);
        canvas.style.width = canvas.style.height = size + "px";
        var m = matrix(l, h); drawThumb(canvas, m);
        (function (l, h, m) {
          canvas.addEventListener("click", function () { showDetail(l, h); });
          canvas.addEventListener("mousemove", function (ev) {
            var b = canvas.getBoundingClientRect(), j = Math.floor((ev.clientX - b.left) / b.width * T),
                i = Math.floor((ev.clientY - b.top) / b.height * T);
            if (i < 0 || j < 0 || i >= T || j >= T) return;
            status.textContent = P.t.layer.replace("{l}", l) + ", " + label(h) + ": " + P.tokens[i] + " \u2192 " + P.tokens[j] + " = " +
              (masked(i, j) ? P.t.masked : m[i][j].toFixed(3));
          });
        })(l, h, m);
        row.insertCell().appendChild(canvas);
      });
    }
    grid.appendChild(table);
  }
  avg.addEventListener("change", function () { drawGrid(); showDetail(P.layer, avg.checked ? -1 : P.head); });
  drawGrid();
  showDetail(P.layer, P.head);
})();

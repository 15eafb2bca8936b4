// Switchyard console: progressive enhancements only; every page works
// without this file except the playground's streaming answer.
"use strict";
(function () {
  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("button.copy").forEach(function (b) {
    b.addEventListener("click", function () {
      var el = document.getElementById(b.dataset.copy);
      if (!el || !navigator.clipboard) return;
      navigator.clipboard.writeText(el.textContent).then(function () { b.textContent = b.dataset.done; }, function () {});
    });
  });
  // Forms that ask before acting (revoke).
  document.querySelectorAll("form.confirm").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  });
  document.querySelectorAll("button.print").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  var form = document.getElementById("pg-form");
  if (form) playground(form);

  function playground(form) {
    var answer = document.getElementById("pg-answer");
    var counter = document.getElementById("pg-counter");
    var send = document.getElementById("pg-send");
    var stop = document.getElementById("pg-stop");
    var snippet = document.getElementById("pg-snippet");
    var lang = form.dataset.lang;
    var kind = "curl";
    var ctrl = null;

    function body() {
      var msgs = [];
      var sys = form.elements.system.value.trim();
      if (sys) msgs.push({ role: "system", content: sys });
      msgs.push({ role: "user", content: form.elements.user.value });
      var b = { model: form.elements.model.value, messages: msgs, stream: true, stream_options: { include_usage: true } };
      var t = parseFloat(form.elements.temperature.value);
      if (!isNaN(t)) b.temperature = t;
      var m = parseInt(form.elements.max_tokens.value, 10);
      if (!isNaN(m)) b.max_tokens = m;
      return b;
    }
    function money(micros, cur) {
      var sym = { USD: lang === "zh" ? "US$" : "$", CNY: lang === "zh" ? "¥" : "CN¥" }[cur] || (cur + " ");
      var v = micros / 1e6;
      return sym + v.toLocaleString(lang === "zh" ? "zh-CN" : "en-US", { minimumFractionDigits: 2, maximumFractionDigits: v > 0 && v < 0.01 ? 6 : 2 });
    }
    function count(u) {
      var opt = form.elements.model.selectedOptions[0];
      var cost = "—";
      if (opt && opt.dataset.cur) {
        var micros = (u.prompt_tokens * Number(opt.dataset.in) + u.completion_tokens * Number(opt.dataset.out)) / 1e6;
        cost = money(micros, opt.dataset.cur);
      }
      counter.textContent = u.prompt_tokens + " / " + u.completion_tokens + " · " + cost;
    }
    function showSnippet() {
      var b = body();
      delete b.stream_options;
      var json = JSON.stringify(b, null, 2);
      var base = location.origin + "/v1";
      var s;
      if (kind === "curl") {
        s = "curl " + base + "/chat/completions \\\n  -H \"Authorization: Bearer $SWITCHYARD_API_KEY\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '" + json.replace(/'/g, "'\\''") + "'";
      } else if (kind === "python") {
        s = "from openai import OpenAI\nimport os\n\nclient = OpenAI(base_url=" + JSON.stringify(base) + ", api_key=os.environ[\"SWITCHYARD_API_KEY\"])\n" +
          "stream = client.chat.completions.create(\n    model=" + JSON.stringify(b.model) + ",\n    messages=" + JSON.stringify(b.messages) + ",\n" +
          (b.temperature !== undefined ? "    temperature=" + b.temperature + ",\n" : "") + (b.max_tokens !== undefined ? "    max_tokens=" + b.max_tokens + ",\n" : "") +
          "    stream=True,\n)\nfor chunk in stream:\n    if chunk.choices:\n        print(chunk.choices[0].delta.content or \"\", end=\"\")\n";
      } else {
        var msgs = b.messages.map(function (m) { return "\t\topenai." + (m.role === "system" ? "SystemMessage" : "UserMessage") + "(" + JSON.stringify(m.content) + "),"; }).join("\n");
        s = "client := openai.NewClient(option.WithBaseURL(" + JSON.stringify(base) + "), option.WithAPIKey(os.Getenv(\"SWITCHYARD_API_KEY\")))\n" +
          "stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{\n\tModel: " + JSON.stringify(b.model) + ",\n\tMessages: []openai.ChatCompletionMessageParamUnion{\n" + msgs + "\n\t},\n" +
          (b.temperature !== undefined ? "\tTemperature: openai.Float(" + b.temperature + "),\n" : "") + (b.max_tokens !== undefined ? "\tMaxTokens: openai.Int(" + b.max_tokens + "),\n" : "") +
          "})\nfor stream.Next() {\n\tif c := stream.Current(); len(c.Choices) > 0 {\n\t\tfmt.Print(c.Choices[0].Delta.Content)\n\t}\n}\n";
      }
      snippet.textContent = s;
    }
    document.querySelectorAll("[data-snippet]").forEach(function (b) {
      b.addEventListener("click", function () {
        kind = b.dataset.snippet;
        document.querySelectorAll("[data-snippet]").forEach(function (o) { o.setAttribute("aria-selected", String(o === b)); });
        showSnippet();
      });
    });
    form.addEventListener("input", showSnippet);
    showSnippet();
    stop.addEventListener("click", function () { if (ctrl) ctrl.abort(); });

    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      answer.textContent = "";
      answer.classList.remove("bad");
      send.disabled = true; stop.disabled = false;
      ctrl = new AbortController();
      try {
        var res = await fetch("/console/chat?key=" + encodeURIComponent(form.elements.key.value), {
          method: "POST", signal: ctrl.signal, credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf },
          body: JSON.stringify(body()),
        });
        if (!res.ok || !res.body) {
          var t = await res.text();
          try { t = JSON.parse(t).error.message; } catch (_) {}
          answer.textContent = t; answer.classList.add("bad");
          return;
        }
        var reader = res.body.getReader();
        var dec = new TextDecoder();
        var buf = "";
        for (;;) {
          var r = await reader.read();
          if (r.done) break;
          buf += dec.decode(r.value, { stream: true });
          var lines = buf.split("\n");
          buf = lines.pop();
          lines.forEach(function (line) {
            if (line.indexOf("data:") !== 0) return;
            var data = line.slice(5).trim();
            if (data === "[DONE]") return;
            var ev;
            try { ev = JSON.parse(data); } catch (_) { return; }
            if (ev.error) { answer.textContent += "\n" + ev.error.message; answer.classList.add("bad"); return; }
            if (ev.choices && ev.choices.length && ev.choices[0].delta && ev.choices[0].delta.content) {
              answer.textContent += ev.choices[0].delta.content;
            }
            if (ev.usage) count(ev.usage);
          });
        }
      } catch (err) {
        if (err.name !== "AbortError") { answer.textContent += "\n" + err.message; answer.classList.add("bad"); }
      } finally {
        send.disabled = false; stop.disabled = true; ctrl = null;
      }
    });
  }
})();

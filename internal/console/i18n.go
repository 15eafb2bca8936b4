package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Languages the console speaks; the first is the fallback.
const (
	LangEN = "en"
	LangZH = "zh"
)

// langCookie remembers the operator's choice of language.
const langCookie = "sy_lang"

// catalogue maps a message id to its English and Simplified Chinese text.
// Every visible string of the console is here; TestCatalogueComplete
// checks that both languages are present and non-empty.
var catalogue = map[string][2]string{
	"app.name":           {"Switchyard console", "Switchyard 控制台"},
	"nav.dashboard":      {"Dashboard", "概览"},
	"nav.orgs":           {"Organisations", "组织"},
	"nav.models":         {"Models", "模型"},
	"nav.playground":     {"Playground", "调试台"},
	"nav.usage":          {"Usage & invoices", "用量与账单"},
	"nav.specialists":    {"Specialists", "专用模型"},
	"nav.policies":       {"Guard policies", "安全策略"},
	"nav.audit":          {"Audit log", "审计日志"},
	"nav.logs":           {"Request logs", "请求日志"},
	"nav.datasets":       {"Datasets", "数据集"},
	"nav.signout":        {"Sign out", "退出登录"},
	"nav.skip":           {"Skip to content", "跳到正文"},
	"nav.menu":           {"Main navigation", "主导航"},
	"lang.switch":        {"中文", "English"},
	"lang.switch.label":  {"Switch language", "切换语言"},
	"login.title":        {"Sign in", "登录"},
	"login.name":         {"Login name", "登录名"},
	"login.password":     {"Password", "密码"},
	"login.submit":       {"Sign in", "登录"},
	"login.bad":          {"Wrong login name or password.", "登录名或密码错误。"},
	"login.key.title":    {"First sign-in with the admin key", "首次使用管理员密钥登录"},
	"login.key.help":     {"Paste the admin key printed by the first start; then set a login name and password.", "粘贴首次启动时打印的管理员密钥，然后设置登录名和密码。"},
	"login.key":          {"Admin key", "管理员密钥"},
	"login.key.bad":      {"That is not the admin key.", "该密钥不是管理员密钥。"},
	"login.throttled":    {"Too many failed sign-ins; try again in 15 minutes.", "登录失败次数过多，请 15 分钟后再试。"},
	"login.csrf":         {"The form expired; please try again.", "表单已过期，请重试。"},
	"account.title":      {"Set your console password", "设置控制台密码"},
	"account.help":       {"Choose a login name and a password of at least 10 characters.", "请设置登录名和至少 10 个字符的密码。"},
	"account.confirm":    {"Repeat password", "再次输入密码"},
	"account.save":       {"Save password", "保存密码"},
	"account.saved":      {"Password saved.", "密码已保存。"},
	"account.mismatch":   {"The passwords differ.", "两次输入的密码不一致。"},
	"account.short":      {"The password needs at least 10 characters.", "密码至少需要 10 个字符。"},
	"account.badlogin":   {"A login name is 3 to 64 letters, digits, dots, dashes, underscores or @.", "登录名为 3 到 64 个字母、数字、点、短横线、下划线或 @。"},
	"account.taken":      {"That login name is taken.", "该登录名已被使用。"},
	"dash.title":         {"Dashboard", "概览"},
	"dash.range":         {"Time range", "时间范围"},
	"dash.24h":           {"24 hours", "24 小时"},
	"dash.7d":            {"7 days", "7 天"},
	"dash.30d":           {"30 days", "30 天"},
	"dash.requests":      {"Requests", "请求数"},
	"dash.tokens":        {"Tokens", "Token 数"},
	"dash.cost":          {"Cost", "费用"},
	"dash.errors":        {"Error rate", "错误率"},
	"dash.latency":       {"Latency p50 / p95", "延迟 p50 / p95"},
	"dash.bymodel":       {"By model", "按模型"},
	"dash.byproject":     {"By project", "按项目"},
	"dash.empty":         {"No traffic in this range yet.", "该时间范围内暂无请求。"},
	"dash.scope":         {"Scope", "范围"},
	"dash.all":           {"All organisations", "全部组织"},
	"col.name":           {"Name", "名称"},
	"col.id":             {"ID", "ID"},
	"col.model":          {"Model", "模型"},
	"col.project":        {"Project", "项目"},
	"col.org":            {"Organisation", "组织"},
	"col.requests":       {"Requests", "请求数"},
	"col.input":          {"Input tokens", "输入 Token"},
	"col.cached":         {"Cached", "缓存命中"},
	"col.output":         {"Output tokens", "输出 Token"},
	"col.cost":           {"Cost", "费用"},
	"col.created":        {"Created", "创建时间"},
	"col.status":         {"Status", "状态"},
	"col.prefix":         {"Prefix", "前缀"},
	"col.limits":         {"Limits", "限额"},
	"col.budget":         {"Monthly budget", "月度预算"},
	"col.actions":        {"Actions", "操作"},
	"col.role":           {"Role", "角色"},
	"col.email":          {"Email", "邮箱"},
	"col.login":          {"Console login", "控制台登录名"},
	"col.currency":       {"Currency", "币种"},
	"col.period":         {"Period", "时间段"},
	"col.time":           {"Time", "时间"},
	"col.actor":          {"Actor", "操作者"},
	"col.action":         {"Action", "动作"},
	"col.target":         {"Target", "对象"},
	"col.deployment":     {"Deployment", "部署"},
	"col.provider":       {"Provider", "提供方"},
	"col.upstream":       {"Upstream model", "上游模型"},
	"col.health":         {"Health", "健康"},
	"col.breaker":        {"Breaker", "熔断器"},
	"col.inflight":       {"In flight", "进行中"},
	"col.failures":       {"Failures", "失败数"},
	"col.latency":        {"Latency p50 / p95", "延迟 p50 / p95"},
	"col.price":          {"Price per 1M tokens (in / cached / out)", "每百万 Token 价格（输入 / 缓存 / 输出）"},
	"col.effective":      {"Effective from", "生效时间"},
	"col.version":        {"Version", "版本"},
	"col.accuracy":       {"Accuracy", "准确率"},
	"col.f1":             {"Macro F1", "宏平均 F1"},
	"col.rows":           {"Training rows", "训练样本数"},
	"col.policy":         {"Policy", "策略"},
	"col.markup":         {"Markup (bps)", "加价（基点）"},
	"col.prepaid":        {"Prepaid", "预付费"},
	"status.active":      {"active", "有效"},
	"status.revoked":     {"revoked", "已吊销"},
	"status.expired":     {"expired", "已过期"},
	"status.healthy":     {"healthy", "健康"},
	"status.unhealthy":   {"unhealthy", "不健康"},
	"status.promoted":    {"promoted", "已上线"},
	"yes":                {"yes", "是"},
	"no":                 {"no", "否"},
	"none":               {"none", "无"},
	"unlimited":          {"unlimited", "不限"},
	"orgs.title":         {"Organisations", "组织"},
	"orgs.create":        {"Create organisation", "创建组织"},
	"orgs.empty":         {"No organisations yet.", "还没有组织。"},
	"org.projects":       {"Projects", "项目"},
	"org.users":          {"Users", "用户"},
	"org.project.create": {"Create project", "创建项目"},
	"org.setpw":          {"Set console password", "设置控制台密码"},
	"org.pwset":          {"Console password set.", "控制台密码已设置。"},
	"org.noproj":         {"No projects yet.", "还没有项目。"},
	"org.nousers":        {"No users yet.", "还没有用户。"},
	"proj.keys":          {"Keys", "密钥"},
	"proj.key.create":    {"Create key", "创建密钥"},
	"proj.key.created":   {"Copy this key now: it is shown only once.", "请立即复制此密钥：它只显示这一次。"},
	"proj.key.copy":      {"Copy", "复制"},
	"proj.key.copied":    {"Copied", "已复制"},
	"proj.key.revoke":    {"Revoke", "吊销"},
	"proj.key.revoked":   {"Key revoked.", "密钥已吊销。"},
	"proj.nokeys":        {"No keys yet.", "还没有密钥。"},
	"proj.limits":        {"Limits and budget", "限额与预算"},
	"proj.limits.edit":   {"Change limits and budget", "修改限额与预算"},
	"proj.limits.saved":  {"Limits and budget saved.", "限额与预算已保存。"},
	"save":               {"Save", "保存"},
	"form.concurrency":   {"Requests in flight (0 = unlimited)", "并发请求数（0 表示不限）"},
	"form.name":          {"Name", "名称"},
	"form.currency":      {"Currency", "币种"},
	"form.rpm":           {"Requests per minute", "每分钟请求数"},
	"form.tpm":           {"Tokens per minute", "每分钟 Token 数"},
	"form.budget":        {"Monthly budget (0 = none)", "月度预算（0 表示不限）"},
	"form.models":        {"Allowed models, comma-separated (empty = all)", "允许的模型，用逗号分隔（留空表示全部）"},
	"form.optional":      {"optional", "可选"},
	"err.title":          {"Something went wrong", "出错了"},
	"err.notfound":       {"Not found.", "未找到。"},
	"err.forbidden":      {"You may not do this.", "你没有执行此操作的权限。"},
	"err.invalid":        {"Invalid input: ", "输入无效："},
	"err.server":         {"Server error; see the log.", "服务器错误，请查看日志。"},
	"back":               {"Back", "返回"},
	"models.title":       {"Models and deployments", "模型与部署"},
	"models.prices":      {"Price book", "价格表"},
	"models.empty":       {"No models configured. Add them to the config file.", "尚未配置模型，请在配置文件中添加。"},
	"models.noprices":    {"No prices in the price book; the config file's prices apply.", "价格表为空，使用配置文件中的价格。"},
	"pg.title":           {"Playground", "调试台"},
	"pg.model":           {"Model", "模型"},
	"pg.key":             {"Act as key", "使用密钥"},
	"pg.system":          {"System prompt", "系统提示词"},
	"pg.user":            {"Message", "消息"},
	"pg.temperature":     {"Temperature", "温度"},
	"pg.maxtokens":       {"Max tokens", "最大 Token 数"},
	"pg.send":            {"Send", "发送"},
	"pg.stop":            {"Stop", "停止"},
	"pg.answer":          {"Answer", "回答"},
	"pg.counter":         {"Tokens in / out and cost", "输入 / 输出 Token 与费用"},
	"pg.snippets":        {"View as code", "查看代码"},
	"pg.nokey":           {"No key you may use for calls: create a project key first.", "没有可用于调用的密钥，请先创建项目密钥。"},
	"pg.nomodels":        {"No models configured.", "尚未配置模型。"},
	"pg.adminkey":        {"admin key", "管理员密钥"},
	"usage.title":        {"Usage and invoices", "用量与账单"},
	"usage.month":        {"Month", "月份"},
	"usage.show":         {"Show", "查看"},
	"usage.csv":          {"Download CSV", "下载 CSV"},
	"usage.invoice":      {"Printable invoice", "可打印账单"},
	"usage.invoices":     {"Invoices", "账单"},
	"usage.empty":        {"No usage in this month.", "本月暂无用量。"},
	"usage.total":        {"Total", "合计"},
	"usage.unpriced":     {"requests unpriced (no price covered them; billed at 0)", "个请求未定价（无适用价格，按 0 计费）"},
	"inv.title":          {"Invoice", "账单"},
	"inv.period":         {"Period", "账期"},
	"inv.issued":         {"Issued", "开具日期"},
	"inv.print":          {"Print", "打印"},
	"spec.title":         {"Specialists", "专用模型"},
	"spec.empty":         {"No specialists trained yet. Train one with `switchyard specialist train`.", "还没有训练专用模型。使用 `switchyard specialist train` 训练。"},
	"spec.promote":       {"Promote", "上线"},
	"spec.promoted":      {"Version promoted.", "该版本已上线。"},
	"pol.title":          {"Guard policies", "安全策略"},
	"pol.named":          {"Named policies (config file)", "命名策略（配置文件）"},
	"pol.default":        {"Default policy", "默认策略"},
	"pol.projects":       {"Each project's policy", "各项目策略"},
	"pol.empty":          {"No named policies in the config file.", "配置文件中没有命名策略。"},
	"pol.inherit":        {"default", "默认"},
	"audit.title":        {"Audit log", "审计日志"},
	"audit.ok":           {"Chain verified: %s entries, untouched.", "哈希链校验通过：共 %s 条，未被篡改。"},
	"audit.bad":          {"Chain broken at entry %s: %s", "哈希链在第 %s 条处断开：%s"},
	"audit.empty":        {"No entries yet.", "暂无记录。"},
	"audit.older":        {"Older entries", "更早的记录"},
	"logs.title":         {"Request logs", "请求日志"},
	"logs.allprojects":   {"All projects", "全部项目"},
	"logs.tag":           {"Tag", "标签"},
	"logs.tags":          {"Tags", "标签"},
	"logs.enduser":       {"End user", "终端用户"},
	"logs.feedback":      {"Feedback", "反馈"},
	"logs.text":          {"Text", "文本"},
	"logs.from":          {"From (UTC)", "起始（UTC）"},
	"logs.to":            {"To (UTC)", "截止（UTC）"},
	"logs.search":        {"Search", "搜索"},
	"logs.request":       {"Request", "请求"},
	"logs.empty":         {"No kept requests match.", "没有匹配的请求日志。"},
	"logs.help":          {"Only projects with keep_bodies keep requests; the newest 200 matches are shown.", "只有开启 keep_bodies 的项目会保存请求；显示最新的 200 条匹配结果。"},
	"logs.none":          {"You may read no project's logs.", "你没有可查看日志的项目。"},
	"logs.entry":         {"Request", "请求"},
	"logs.key":           {"Key", "密钥"},
	"logs.reqbody":       {"Request body", "请求内容"},
	"logs.respbody":      {"Response", "响应内容"},
	"logs.streamed":      {"streamed text", "流式文本"},
	"logs.metadata":      {"Metadata", "元数据"},
	"logs.feedbacks":     {"Feedback", "反馈"},
	"logs.nofeedback":    {"No feedback yet.", "暂无反馈。"},
	"logs.score":         {"Score", "评分"},
	"logs.rawscore":      {"As given", "原始评分"},
	"logs.correction":    {"Correction", "更正答案"},
	"logs.comment":       {"Comment", "备注"},
	"logs.fb.add":        {"Add feedback", "添加反馈"},
	"logs.fb.saved":      {"Feedback saved.", "反馈已保存。"},
	"logs.fb.up":         {"Good (thumbs up)", "好（赞）"},
	"logs.fb.down":       {"Bad (thumbs down)", "差（踩）"},
	"logs.fb.any":        {"any", "有反馈"},
	"logs.fb.positive":   {"positive", "正面"},
	"logs.fb.negative":   {"negative", "负面"},
	"logs.fb.none":       {"none", "无反馈"},
	"ds.title":           {"Datasets", "数据集"},
	"ds.empty":           {"No datasets yet.", "还没有数据集。"},
	"ds.create":          {"Create dataset", "创建数据集"},
	"ds.namehelp":        {"A name is 1 to 64 letters, digits, dots, dashes or underscores.", "名称为 1 到 64 个字母、数字、点、短横线或下划线。"},
	"ds.versions":        {"Versions", "版本"},
	"ds.noversions":      {"No versions yet: add rows from the request logs.", "还没有版本：请从请求日志添加数据。"},
	"ds.op":              {"Operation", "操作"},
	"ds.hash":            {"Content hash", "内容哈希"},
	"ds.rows":            {"Rows", "行数"},
	"ds.selected":        {"Version", "版本"},
	"ds.export":          {"Download", "下载"},
	"ds.report":          {"Curation report", "清洗报告"},
	"ds.report.inout":    {"%s rows in, %s rows out.", "输入 %s 行，输出 %s 行。"},
	"ds.step":            {"Step", "步骤"},
	"ds.removed":         {"Removed", "删除"},
	"ds.changed":         {"Changed", "修改"},
	"ds.examples":        {"Examples", "示例"},
	"ds.change":          {"New version", "生成新版本"},
	"ds.fromlogs":        {"Add rows from request logs", "从请求日志添加数据"},
	"ds.fromlogs.done":   {"Rows added from the request logs.", "已从请求日志添加数据。"},
	"ds.fromlogs.none":   {"The filters select no kept conversations.", "筛选条件没有选中任何对话。"},
	"ds.onlycorrected":   {"Only conversations with a correction", "仅含更正答案的对话"},
	"ds.curate":          {"Curate", "清洗"},
	"ds.curate.done":     {"Curated into a new version.", "已清洗为新版本。"},
	"ds.c.exact":         {"Exact duplicates", "完全重复"},
	"ds.c.conflicts":     {"Label conflicts", "标签冲突"},
	"ds.c.pii":           {"Scrub PII", "去除个人信息"},
	"ds.c.neardup":       {"Near-duplicates at Jaccard (0 = off)", "近似重复 Jaccard 阈值（0 表示关闭）"},
	"ds.c.repetition":    {"Max repetition", "最大重复比例"},
	"ds.c.nontext":       {"Max non-text share", "最大非文本比例"},
	"ds.c.minchars":      {"Min characters", "最少字符数"},
	"ds.c.maxchars":      {"Max characters (0 = none)", "最多字符数（0 表示不限）"},
	"ds.c.minlabel":      {"Min rows per label", "每个标签最少行数"},
	"ds.apply":           {"Apply annotations", "应用标注"},
	"ds.apply.help":      {"Makes a new version of the reviewed rows, with labels and corrections applied.", "用已审阅的行生成新版本，并应用标签和更正。"},
	"ds.apply.done":      {"Annotations applied into a new version.", "标注已应用为新版本。"},
	"ann.title":          {"Annotation queue", "标注队列"},
	"ann.open":           {"Annotate this version", "标注此版本"},
	"ann.as":             {"Annotating as", "标注人："},
	"ann.saved":          {"Saved; here is the next row.", "已保存，下面是下一行。"},
	"ann.row":            {"Row", "行"},
	"ann.others":         {"%d annotations by others", "其他人已标注 %d 次"},
	"ann.text":           {"Text", "文本"},
	"ann.label":          {"Label", "标签"},
	"ann.prompt":         {"Prompt", "提示"},
	"ann.chosen":         {"Chosen", "优选回答"},
	"ann.rejected":       {"Rejected", "劣选回答"},
	"ann.reference":      {"Reference", "参考答案"},
	"ann.accept":         {"Accept", "接受"},
	"ann.reject":         {"Reject", "拒绝"},
	"ann.setlabel":       {"Set label", "设置标签"},
	"ann.correction":     {"Corrected answer", "更正后的回答"},
	"ann.correct":        {"Save correction", "保存更正"},
	"ann.empty":          {"Nothing left for you to annotate in this version.", "此版本中已没有需要你标注的行。"},
	"ann.agreement":      {"Agreement between annotators", "标注一致性"},
	"ann.method":         {"Method", "方法"},
	"ann.annotators":     {"Annotators", "标注人"},
	"ann.items":          {"Rows judged twice or more", "被两人以上标注的行"},
	"ann.observed":       {"Observed agreement", "观测一致率"},
	"ann.kappa":          {"Kappa", "Kappa 系数"},
	"footer.offline":     {"Served by this Switchyard binary; works offline.", "由本 Switchyard 程序提供，可离线使用。"},
	"csrf.bad":           {"The form expired; reload the page and try again.", "表单已过期，请刷新页面后重试。"},
	"confirm.revoke":     {"Revoke this key? Calls with it stop within a second.", "确定吊销此密钥？使用它的调用将在一秒内停止。"},
	"role.admin":         {"platform admin", "平台管理员"},
}

// T returns the message id in lang; an unknown id is returned as is.
func T(lang, id string) string {
	m, ok := catalogue[id]
	if !ok {
		return id
	}
	if lang == LangZH {
		return m[1]
	}
	return m[0]
}

// PickLang chooses the language: the cookie if set, else the best match of
// the Accept-Language header, else English.
func PickLang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == LangEN || c.Value == LangZH) {
		return c.Value
	}
	return ParseAcceptLanguage(r.Header.Get("Accept-Language"))
}

// ParseAcceptLanguage returns LangZH or LangEN for an Accept-Language
// header value (RFC 9110 §12.5.4): the supported language with the highest
// q-value wins, earlier entries breaking ties; unsupported ones are ignored.
func ParseAcceptLanguage(h string) string {
	best, bestQ := LangEN, -1.0
	for part := range strings.SplitSeq(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.TrimSpace(k) == "q" {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		var lang string
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			// Traditional-script tags still get Simplified Chinese:
			// closer than English for most readers.
			lang = LangZH
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			lang = LangEN
		default:
			continue
		}
		if q > bestQ && q > 0 {
			best, bestQ = lang, q
		}
	}
	return best
}

// FormatInt groups digits in threes: 1,234,567 (both languages use this).
func FormatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// FormatCompact shortens large counts for chart labels: 12.3k / 4.5M in
// English, 1.2万 / 3.4亿 in Chinese.
func FormatCompact(lang string, n int64) string {
	f := float64(n)
	type unit struct {
		v    float64
		name string
	}
	units := []unit{{1e9, "B"}, {1e6, "M"}, {1e3, "k"}}
	if lang == LangZH {
		units = []unit{{1e8, "亿"}, {1e4, "万"}}
	}
	for _, u := range units {
		if f >= u.v || f <= -u.v {
			s := strconv.FormatFloat(f/u.v, 'f', 1, 64)
			return strings.TrimSuffix(s, ".0") + u.name
		}
	}
	return FormatInt(n)
}

// FormatMoney formats micro-units of currency (USD or CNY) with two
// decimals (more when the amount is below one cent and not zero) and the
// symbol each language uses: $ and CN¥ in English, US$ and ¥ in Chinese.
func FormatMoney(lang string, micros int64, currency string) string {
	sym := map[string][2]string{"USD": {"$", "US$"}, "CNY": {"CN¥", "¥"}}[currency]
	symbol := sym[0]
	if lang == LangZH {
		symbol = sym[1]
	}
	if symbol == "" {
		symbol = currency + " "
	}
	neg := micros < 0
	if neg {
		micros = -micros
	}
	whole, frac := micros/1_000_000, micros%1_000_000
	digits := 2
	if whole == 0 && frac > 0 && frac < 10_000 {
		digits = 6
	}
	fs := strconv.FormatInt(1_000_000+frac, 10)[1:] // six digits
	if digits == 2 {
		cents := (frac + 5_000) / 10_000
		if cents == 100 {
			whole, cents = whole+1, 0
		}
		fs = strconv.FormatInt(100+cents, 10)[1:]
	} else {
		fs = strings.TrimRight(fs, "0")
		if len(fs) < 2 {
			fs += "0"
		}
	}
	s := symbol + FormatInt(whole) + "." + fs
	if neg {
		s = "-" + s
	}
	return s
}

// FormatTime shows a moment in UTC: "Nov 29, 2026 13:04" or
// "2026年11月29日 13:04".
func FormatTime(lang string, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.UTC()
	if lang == LangZH {
		return t.Format("2006年1月2日 15:04")
	}
	return t.Format("Jan 2, 2006 15:04")
}

// FormatDate shows a day: "Nov 29, 2026" or "2026年11月29日".
func FormatDate(lang string, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.UTC()
	if lang == LangZH {
		return t.Format("2006年1月2日")
	}
	return t.Format("Jan 2, 2006")
}

// FormatPercent shows a ratio with one decimal: 12.5%.
func FormatPercent(ratio float64) string {
	return strconv.FormatFloat(ratio*100, 'f', 1, 64) + "%"
}

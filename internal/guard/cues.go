package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Cue ids for cueMatcher.
const (
	cuePersonBefore = iota // cue precedes a Chinese name: 姓名：张三
	cuePersonAfter         // cue follows a Chinese name: 张三先生
	cuePersonEN            // cue precedes an English name: my name is John Smith
	cueProvince            // province / municipality: an address may start here
)

var cueMatcher = newMatcher(concat(
	kwList(cuePersonBefore, 0, "姓名：", "姓名:", "姓名", "我叫", "名叫", "联系人：", "联系人", "收件人：", "收件人", "收货人",
		"患者", "主治医生", "医生", "经纪人", "申请人", "法人代表", "持卡人"),
	kwList(cuePersonAfter, 0, "先生", "女士", "小姐", "医生", "老师", "教授", "同学", "经理", "是一位", "是一名"),
	kwList(cuePersonEN, 0, "my name is ", "name: ", "mr. ", "mrs. ", "ms. ", "dr. ", "i am ", "this is "),
	kwList(cueProvince, 0, "北京", "上海", "天津", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
		"安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
		"甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门"),
))

// surnames holds common Chinese family names (single characters).
var surnames = func() map[rune]bool {
	const s = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
	m := make(map[rune]bool, len(s)/3)
	for _, r := range s {
		m[r] = true
	}
	return m
}()

// nameStop are characters that rarely occur inside a given name and end a
// name when scanning forward.
const nameStop = "的是在和与为等了说及或也都就对被把从向给让请这那我你他她它们一位名年岁月日号个有于将"

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// cues finds Chinese and English person names and Chinese addresses around
// cue words. Recall is deliberately modest: only names next to a cue word
// and addresses starting at a province name are found.
func (sc *scanState) cues() {
	for _, h := range sc.cueHits {
		switch h.id {
		case cuePersonBefore:
			sc.nameAfter(h.end)
		case cuePersonAfter:
			sc.nameBefore(h.start, h.id)
		case cuePersonEN:
			sc.nameEN(h.end)
		case cueProvince:
			sc.address(h.start)
		}
	}
}

func (sc *scanState) nameAfter(p int) {
	t := sc.text
	for p < len(t) && (t[p] == ' ' || t[p] == ':') {
		p++
	}
	r, w := utf8.DecodeRuneInString(t[p:])
	if !surnames[r] {
		return
	}
	e := p + w
	for k := 0; k < 2; k++ {
		r2, w2 := utf8.DecodeRuneInString(t[e:])
		if !isHan(r2) || strings.ContainsRune(nameStop, r2) {
			break
		}
		e += w2
	}
	if utf8.RuneCountInString(t[p:e]) >= 2 {
		sc.add(tPerson, p, e, 0.6, 0.1)
	}
}

func (sc *scanState) nameBefore(p int, _ int) {
	t := sc.text
	var rs [4]rune
	var ws [4]int
	q := p
	k := 0
	for ; k < 4 && q > 0; k++ {
		r, w := utf8.DecodeLastRuneInString(t[:q])
		if !isHan(r) {
			break
		}
		rs[k], ws[k] = r, w
		q -= w
	}
	// try a 3-character name, then 2
	for _, l := range []int{3, 2} {
		if k < l || !surnames[rs[l-1]] {
			continue
		}
		bad := false
		for j := 0; j < l-1; j++ {
			if strings.ContainsRune(nameStop, rs[j]) {
				bad = true
			}
		}
		if bad {
			continue
		}
		s := p
		for j := 0; j < l; j++ {
			s -= ws[j]
		}
		sc.add(tPerson, s, p, 0.55, 0.1)
		return
	}
}

func (sc *scanState) nameEN(p int) {
	t := sc.text
	e, words := p, 0
	for words < 3 && e < len(t) && isUpper(t[e]) {
		q := e + 1
		for q < len(t) && (isAlpha(t[q]) || t[q] == '\'' || t[q] >= 0x80 && t[q] != 0xE3 && t[q] != 0xEF) {
			if t[q] >= 0x80 {
				r, w := utf8.DecodeRuneInString(t[q:])
				if !unicode.IsLetter(r) {
					break
				}
				q += w
				continue
			}
			q++
		}
		if q-e < 2 {
			break
		}
		e = q
		words++
		if e+1 < len(t) && t[e] == ' ' && isUpper(t[e+1]) {
			e++
			continue
		}
		break
	}
	if words > 0 {
		for e > p && t[e-1] == ' ' {
			e--
		}
		sc.add(tPerson, p, e, 0.55, 0.1)
	}
}

const addrSuffix = "号室楼栋幢层座弄巷村组路街道区县镇乡市"
const addrStop = "，。；、,;!?！？的或可及和与（）()【】「」\"'持有身联电手邮"

func (sc *scanState) address(p int) {
	t := sc.text
	e, last, specific, runes := p, -1, false, 0
	for e < len(t) && runes < 40 {
		r, w := utf8.DecodeRuneInString(t[e:])
		if r == utf8.RuneError || strings.ContainsRune(addrStop, r) {
			break
		}
		if !(isHan(r) || r < 0x80 && (isAlnum(byte(r)) || r == '-' || r == '#') || r >= 0xFF10 && r <= 0xFF19) {
			break
		}
		e += w
		runes++
		if strings.ContainsRune(addrSuffix, r) {
			last = e
			if strings.ContainsRune("号室楼栋幢层座弄巷村路街道", r) {
				specific = true
			}
		}
	}
	if last < 0 || utf8.RuneCountInString(t[p:last]) < 4 {
		return
	}
	if specific {
		sc.add(tAddress, p, last, 0.6, 0.2)
	} else {
		sc.add(tAddress, p, last, 0.35, 0.2)
	}
}
